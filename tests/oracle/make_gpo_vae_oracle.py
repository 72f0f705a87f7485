#!/usr/bin/env python3
"""Writes the GPO-VAE oracle fixtures (tests/oracle/gpo_vae_*.json) from the published PyTorch reference.

The loss and its gradients come from the reference's OWN classes (github dmis-lab/GPO-VAE, commit d554eed):
    gpo_vae/models/gpo_vae/model.py                           gpo_vae_Model
    gpo_vae/models/gpo_vae/guides/correlated_normal_guide.py  gpo_vae_CorrelatedNormalGuide
    gpo_vae/models/gpo_vae/loss_module.py                     gpo_vae_ELBOLossModule (its loss())
    gpo_vae/models/utils/{loss_modules,mlp,gumbel_softmax_bernoulli,normalization}.py
imported with the package __init__ files bypassed (they import RAPIDS/cupy), run unchanged in float64 on a tiny
fixed batch with fixed parameters. Only the noise is fed in: the reference draws it with torch.rand (the uniforms
of pyro's RelaxedBernoulliStraightThrough) and torch.distributions.normal._standard_normal (every reparameterised
Normal sample); both are replaced, for the duration of one loss() call, by functions that hand out the arrays of the
fixture in the order the reference draws them (main guide pass: mask, E, qc_E, z_basal; then the counterfactual pass
in the same order), checking each shape. The fixture stores those arrays, and the C++ test
(tests/test_oracle_gpo_vae.cpp) feeds the same arrays to the engine.

Cases:
    reference      the published defaults (per-batch alpha, cf term as published, prior scale 1)
    alpha_global   the loss module's own `alpha` argument fixed (the engine's model.qc_alpha = "global")
    prior_scale    embedding_prior_scale = 2 and mask_prior = 0.2 (the prior of E and of qc_E both scale)
    cf_kl          the engine's option model.cf_term = "kl": the reference's loss with its counterfactual term
                   replaced by beta * mean over particles and cells of torch.distributions.kl_divergence (an
                   independent computation of the exact Gaussian KL; the published code has no such option)

Set-up (torch is needed only here, never in CI):
    python3 -m venv refvenv
    refvenv/bin/pip install torch==2.4.0 pyro-ppl==1.9.1 "numpy<2"
    git --git-dir=<a git copy of dmis-lab/GPO-VAE> archive d554eed gpo_vae | tar -x -C gpo-vae-ref
    refvenv/bin/python tests/oracle/make_gpo_vae_oracle.py --ref-src gpo-vae-ref --out tests/oracle
"""
import argparse
import hashlib
import json
import os
import sys
import types

REF_FILES = [
    "gpo_vae/models/gpo_vae/model.py",
    "gpo_vae/models/gpo_vae/guides/correlated_normal_guide.py",
    "gpo_vae/models/gpo_vae/loss_module.py",
    "gpo_vae/models/utils/loss_modules.py",
    "gpo_vae/models/utils/mlp.py",
    "gpo_vae/models/utils/gumbel_softmax_bernoulli.py",
    "gpo_vae/models/utils/normalization.py",
]

# Tiny shapes: G genes, T = 3 perturbed + 2 extended treatments, L latent, B cells, P particles, hidden widths.
SHAPE = dict(G=7, n_perturbed=3, n_extended=2, L=3, B=6, P=2, emb_layers=4, emb_hidden=6, basal_layers=1,
             basal_hidden=5, decoder_n_layers=1, decoder_hidden=6)


def import_reference(src):
    """Registers the gpo_vae packages without running their __init__.py."""
    src = os.path.abspath(src)
    if not os.path.isdir(os.path.join(src, "gpo_vae")):
        sys.exit("make_gpo_vae_oracle.py: --ref-src must hold gpo_vae/ of dmis-lab/GPO-VAE at d554eed")
    for pkg in ["gpo_vae", "gpo_vae.models", "gpo_vae.models.gpo_vae", "gpo_vae.models.gpo_vae.guides",
                "gpo_vae.models.utils", "gpo_vae.data", "gpo_vae.data.utils"]:
        m = types.ModuleType(pkg)
        m.__path__ = [os.path.join(src, *pkg.split("."))]
        sys.modules[pkg] = m
    from gpo_vae.models.gpo_vae.model import gpo_vae_Model
    from gpo_vae.models.gpo_vae.guides.correlated_normal_guide import gpo_vae_CorrelatedNormalGuide
    from gpo_vae.models.gpo_vae.loss_module import gpo_vae_ELBOLossModule
    from gpo_vae.data.utils.perturbation_datamodule import ObservationNormalizationStatistics
    hashes = {f: hashlib.sha256(open(os.path.join(src, f), "rb").read()).hexdigest()[:16] for f in REF_FILES}
    return gpo_vae_Model, gpo_vae_CorrelatedNormalGuide, gpo_vae_ELBOLossModule, ObservationNormalizationStatistics, hashes


class FedNoise:
    """Stands in for torch.rand and normal._standard_normal, handing out fixed arrays in order."""

    def __init__(self, torch, uniforms, normals):
        self.torch, self.uniforms, self.normals = torch, list(uniforms), list(normals)

    def _next(self, queue, shape, what):
        if not queue:
            sys.exit(f"make_gpo_vae_oracle.py: the reference drew more {what} noise than the fixture holds")
        t = queue.pop(0)
        if tuple(t.shape) != tuple(shape):
            sys.exit(f"make_gpo_vae_oracle.py: {what} noise of shape {tuple(shape)} requested, "
                     f"next fixture array is {tuple(t.shape)} (draw order changed?)")
        return t.clone()

    def rand(self, *size, **kw):
        shape = size[0] if len(size) == 1 and not isinstance(size[0], int) else size
        return self._next(self.uniforms, shape, "uniform").to(kw.get("dtype") or self.torch.get_default_dtype())

    def standard_normal(self, shape, dtype=None, device=None):
        return self._next(self.normals, shape, "normal").to(dtype or self.torch.get_default_dtype())


def write_fixture(path, fixture):
    """Writes a fixture atomically (path.tmp, then renamed) and prints its total loss."""
    with open(path + ".tmp", "w") as f:
        json.dump(fixture, f, separators=(",", ":"))
    os.replace(path + ".tmp", path)
    print(f"{path}: loss {fixture['terms']['loss']:.6f}")


def make_case(name, torch, np, Model, Guide, Loss, NormStats):
    s = SHAPE
    G, NP, T, L, B, P = s["G"], s["n_perturbed"], s["n_perturbed"] + s["n_extended"], s["L"], s["B"], s["P"]
    cfg = dict(mask_prior=0.3, embedding_prior_scale=1.0, cf_beta=0.1, hops=5, tau=0.4, gloss=100.0,
               sparsity=1.0, alpha=None, cf_term="reference")
    if name == "alpha_global":
        cfg["alpha"] = 0.25
    if name == "prior_scale":
        cfg.update(embedding_prior_scale=2.0, mask_prior=0.2)
    if name == "cf_kl":
        cfg["cf_term"] = "kl"
    rng = np.random.default_rng({"reference": 1, "alpha_global": 2, "prior_scale": 3, "cf_kl": 4}[name])

    # The batch: cells {0}, {1}, {0, 2} (a combination), control, {2}, {1}; cells 1 and 4 fail QC; cells 2 and 3
    # have no counterfactual profile. Extended treatments 3, 4 have no cell (N_t = 0, no KL weight).
    treat = [[0], [1], [0, 2], [], [2], [1]]
    qc = np.array([0, 1, 0, 0, 1, 0], dtype=np.float64)
    X = np.floor(rng.uniform(0, 12, size=(B, G)))
    X[X < 3] = 0
    cfX = np.floor(rng.uniform(0, 12, size=(B, G)))
    cfX[[2, 3]] = 0
    D = np.zeros((B, T))
    for n, ts in enumerate(treat):
        D[n, ts] = 1
    deltaX = rng.uniform(0, 1.2, size=(B, T))
    D_obs = np.array([3.0, 2.0, 2.0, 0.0, 0.0])  # N_t of the split
    qc_obs = np.array([2.0])                     # N_fail of the split
    log_mean, log_std = rng.uniform(0.2, 1.0, size=G), rng.uniform(0.5, 1.5, size=G)

    torch.manual_seed(10 + len(name))
    stats = NormStats(x_mean=torch.zeros(G), x_std=torch.ones(G), log_x_mean=torch.tensor(log_mean),
                      log_x_std=torch.tensor(log_std))
    model = Model(n_latent=L, n_treatments=T, n_phenos=G, n_qc=1, mask_prior=cfg["mask_prior"],
                  logits_or_probs="logits", embedding_prior_scale=cfg["embedding_prior_scale"],
                  likelihood_key="library_nb", decoder_n_layers=s["decoder_n_layers"],
                  decoder_n_hidden=s["decoder_hidden"], sum_mode=False)
    guide = Guide(n_latent=L, n_treatments=T, n_phenos=G, n_qc=1, basal_encoder_n_layers=s["basal_layers"],
                  basal_encoder_n_hidden=s["basal_hidden"], basal_encoder_input_normalization="log_standardize",
                  embedding_encoder_n_layers=s["emb_layers"], embedding_encoder_n_hidden=s["emb_hidden"],
                  x_normalization_stats=stats, mask_init=0, logits_or_probs="logits", mean_field_encoder=False,
                  knowledge_path=None, fc_criteria=cfg["tau"])
    loss_module = Loss(model=model, guide=guide, pos_weight=0.5, beta=cfg["cf_beta"], alpha=cfg["alpha"],
                       hop=cfg["hops"], knowledge_path=None, fc_criteria=cfg["tau"], gloss_coeff=cfg["gloss"],
                       penaly_coeff=cfg["sparsity"])
    with torch.no_grad():  # parameters away from their initial symmetric values
        guide.param_dict["q_mask_logits"].copy_(torch.tensor(rng.uniform(-2.5, 2.5, size=(T, T))))
        model.decoder.log_concentration.copy_(torch.tensor(rng.uniform(-1, 1.5, size=G)))

    # Noise: uniforms away from 0, 1 (the clamps stay inactive) and never making a relaxed sample exactly 0.5.
    noise = {"mask_u": [rng.uniform(0.02, 0.98, size=(P, T, T)) for _ in range(2)],
             "emb_eps": [rng.standard_normal((P, T, T)) for _ in range(2)],
             "qc_eps": [rng.standard_normal((P, 1, L)) for _ in range(2)],
             "z_eps": [rng.standard_normal((P, B, L)) for _ in range(2)]}
    tt = lambda a: torch.tensor(a)
    uniforms = [tt(noise["mask_u"][0]), tt(noise["mask_u"][1])]
    normals = [tt(noise[k][p]) for p in range(2) for k in ("emb_eps", "qc_eps", "z_eps")]

    Xt, Dt, qct, cfXt = tt(X), tt(D), tt(qc).reshape(B, 1), tt(cfX)
    lib = Xt.sum(1)  # (B,), as the reference dataset batches it
    fed = FedNoise(torch, uniforms, normals)
    real_rand, real_normal = torch.rand, torch.distributions.normal._standard_normal
    captured = {}
    if cfg["cf_term"] == "kl":
        # Keep the reference's loss but swap its counterfactual term for the exact KL: capture both passes'
        # q(z_basal) (through forward) and replace kldiv_normal's value by the independent KL below.
        real_forward = loss_module.forward

        def forward(*a, **k):
            out = real_forward(*a, **k)
            captured["main"], captured["cf"] = out[0], out[3]
            return out

        loss_module.forward = forward

        def exact_kl(mu1, s1, mu2, s2):
            kl = torch.distributions.kl_divergence(torch.distributions.Normal(mu1, s1),
                                                   torch.distributions.Normal(mu2, s2))  # (P, I, L)
            # loss() multiplies by beta and sums; the engine's kl option is beta * mean over (P, I) of sum over L.
            return kl.sum(-1).mean(0) / mu1.shape[1]

        loss_module.kldiv_normal = exact_kl
    torch.rand, torch.distributions.normal._standard_normal = fed.rand, fed.standard_normal
    try:
        loss, metrics = loss_module.loss(X=Xt, D=Dt, D_obs_counts=tt(D_obs), qc=qct, qc_obs_counts=tt(qc_obs),
                                         deltaX=tt(deltaX), cfX=cfXt, condition_values={"library_size": lib},
                                         n_particles=P, test=False, x_var_info=None)
    finally:
        torch.rand, torch.distributions.normal._standard_normal = real_rand, real_normal
    if fed.uniforms or fed.normals:
        sys.exit("make_gpo_vae_oracle.py: the reference drew less noise than the fixture holds (order changed?)")
    loss.backward()

    with torch.no_grad():
        norm_x = guide.normalization_module(Xt).numpy()
        cf_norm_x = guide.normalization_module(cfXt).numpy()
    params = {k: {"shape": list(v.shape), "values": v.detach().reshape(-1).tolist()}
              for k, v in loss_module.named_parameters()}
    grads = {k: v.grad.reshape(-1).tolist() for k, v in loss_module.named_parameters()}
    terms = {"loss": float(loss)}
    names = {"loss_term_reconstruction": "recon", "loss_term_z_basal": "kl_z", "loss_term_E": "kl_emb",
             "loss_term_mask": "kl_mask", "loss_term_qc_E": "kl_qc", "cf_KLdivergence": "cf", "grn_loss": "grn",
             "penalty": "sparsity"}
    terms.update({names[k]: float(v) for k, v in metrics.items()})
    shape = dict(s, T=T)
    return {
        "case": name,
        "reference": "github dmis-lab/GPO-VAE d554eed",
        "generator": "tests/oracle/make_gpo_vae_oracle.py",
        "torch": torch.__version__,
        "config": dict(shape, **cfg),
        "batch": {"counts": X.reshape(-1).tolist(), "library": X.sum(1).tolist(),
                  "norm_x": norm_x.reshape(-1).tolist(), "cf_norm_x": cf_norm_x.reshape(-1).tolist(),
                  "has_cf": [int(v) for v in (cfX.sum(1) != 0)], "qc": qc.tolist(),
                  "delta": deltaX.reshape(-1).tolist(), "treatments": treat, "D_obs_counts": D_obs.tolist(),
                  "n_fail_split": float(qc_obs[0])},
        "noise": {k: [a.reshape(-1).tolist() for a in v] for k, v in noise.items()},
        "params": params,
        "terms": terms,
        "grads": grads,
    }


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--ref-src", required=True, help="folder holding gpo_vae/ of dmis-lab/GPO-VAE at d554eed")
    p.add_argument("--out", required=True, help="folder for gpo_vae_<case>.json")
    a = p.parse_args()
    import numpy as np
    import torch
    torch.set_default_dtype(torch.float64)
    Model, Guide, Loss, NormStats, hashes = import_reference(a.ref_src)
    for case in ["reference", "alpha_global", "prior_scale", "cf_kl"]:
        fixture = make_case(case, torch, np, Model, Guide, Loss, NormStats)
        fixture["ref_files"] = hashes
        write_fixture(os.path.join(a.out, f"gpo_vae_{case}.json"), fixture)


if __name__ == "__main__":
    main()
