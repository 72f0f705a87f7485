#!/usr/bin/env python3
"""Writes the SAMS-VAE family oracle fixtures (tests/oracle/<case>.json) from the published PyTorch code.

The loss and its gradients come from the published classes of github insitro/sams-vae (commit 10d781c):
    sams_vae/models/sams_vae/model.py                          SAMSVAEModel
    sams_vae/models/sams_vae/guides/correlated_normal_guide.py SAMSVAECorrelatedNormalGuide
    sams_vae/models/sams_vae/guides/mean_field_normal_guide.py SAMSVAEMeanFieldNormalGuide
    sams_vae/models/sams_vae/loss_module.py                    SAMSVAE_ELBOLossModule, SAMSVAE_IWELBOLossModule
    sams_vae/models/cpa_vae/{model,guides/normal_guide,loss_module}.py
    sams_vae/models/conditional_vae/{model,guide,loss_module}.py
    sams_vae/models/utils/{loss_modules,mlp,gumbel_softmax_bernoulli,normalization}.py
imported with the package __init__ files bypassed, run unchanged in float64 on a tiny fixed batch with fixed
parameters. The noise is fed as in make_gpo_vae_oracle.py: torch.rand (the relaxed-Bernoulli uniforms) and
torch.distributions.normal._standard_normal (every reparameterised Normal sample) hand out the fixture's arrays in
the order the guide draws them (mask, E, z), shapes checked. tests/test_oracle_sams_vae.cpp feeds the same arrays
to the engine.

Cases (engine model.type / model.inference):
    sams_vae_correlated     correlated guide, q(z_b | x, d(M o E))       (mean_field_encoder False)
    sams_vae_correlated_e   correlated guide, q(z_b | x)                 (mean_field_encoder True)
    sams_vae_correlated_z   mean-field guide, q(z_b | x, d(M o E))
    sams_vae_mean_field     mean-field guide, q(z_b | x)
    sams_vae_iwelbo         correlated guide, the IWELBO loss module
    cpa_vae_correlated_z    CPA-VAE guide, q(z_b | x, d E)
    cpa_vae_mean_field      CPA-VAE guide, q(z_b | x)
    conditional_vae         conditional VAE

Set-up: as make_gpo_vae_oracle.py, with the reference source from insitro/sams-vae:
    git --git-dir=<a git copy of insitro/sams-vae> archive 10d781c sams_vae | tar -x -C sams-vae-ref
    refvenv/bin/python tests/oracle/make_sams_vae_oracle.py --ref-src sams-vae-ref --out tests/oracle
"""
import argparse
import hashlib
import os
import sys
import types

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_gpo_vae_oracle import FedNoise, write_fixture  # noqa: E402  the same noise feeder and writer

REF_FILES = [
    "sams_vae/models/sams_vae/model.py",
    "sams_vae/models/sams_vae/guides/correlated_normal_guide.py",
    "sams_vae/models/sams_vae/guides/mean_field_normal_guide.py",
    "sams_vae/models/sams_vae/loss_module.py",
    "sams_vae/models/cpa_vae/model.py",
    "sams_vae/models/cpa_vae/guides/normal_guide.py",
    "sams_vae/models/cpa_vae/loss_module.py",
    "sams_vae/models/conditional_vae/model.py",
    "sams_vae/models/conditional_vae/guide.py",
    "sams_vae/models/conditional_vae/loss_module.py",
    "sams_vae/models/utils/loss_modules.py",
    "sams_vae/models/utils/mlp.py",
    "sams_vae/models/utils/gumbel_softmax_bernoulli.py",
    "sams_vae/models/utils/normalization.py",
]

SHAPE = dict(G=7, T=4, L=3, B=6, P=2, emb_layers=2, emb_hidden=5, basal_layers=1, basal_hidden=5,
             decoder_n_layers=2, decoder_hidden=6)

CASES = ["sams_vae_correlated", "sams_vae_correlated_e", "sams_vae_correlated_z", "sams_vae_mean_field",
         "sams_vae_iwelbo", "cpa_vae_correlated_z", "cpa_vae_mean_field", "conditional_vae"]


def import_reference(src):
    src = os.path.abspath(src)
    if not os.path.isdir(os.path.join(src, "sams_vae")):
        sys.exit("make_sams_vae_oracle.py: --ref-src must hold sams_vae/ of insitro/sams-vae at 10d781c")
    for pkg in ["sams_vae", "sams_vae.models", "sams_vae.models.sams_vae", "sams_vae.models.sams_vae.guides",
                "sams_vae.models.cpa_vae", "sams_vae.models.cpa_vae.guides", "sams_vae.models.conditional_vae",
                "sams_vae.models.utils", "sams_vae.data", "sams_vae.data.utils"]:
        m = types.ModuleType(pkg)
        m.__path__ = [os.path.join(src, *pkg.split("."))]
        sys.modules[pkg] = m
    import importlib
    ref = {}
    for mod, names in [("sams_vae.models.sams_vae.model", ["SAMSVAEModel"]),
                       ("sams_vae.models.sams_vae.guides.correlated_normal_guide", ["SAMSVAECorrelatedNormalGuide"]),
                       ("sams_vae.models.sams_vae.guides.mean_field_normal_guide", ["SAMSVAEMeanFieldNormalGuide"]),
                       ("sams_vae.models.sams_vae.loss_module", ["SAMSVAE_ELBOLossModule", "SAMSVAE_IWELBOLossModule"]),
                       ("sams_vae.models.cpa_vae.model", ["CPAVAEModel"]),
                       ("sams_vae.models.cpa_vae.guides.normal_guide", ["CPAVAENormalGuide"]),
                       ("sams_vae.models.cpa_vae.loss_module", ["CPAVAE_ELBOLossModule"]),
                       ("sams_vae.models.conditional_vae.model", ["ConditionalVAEModel"]),
                       ("sams_vae.models.conditional_vae.guide", ["ConditionalVAEGuide"]),
                       ("sams_vae.models.conditional_vae.loss_module", ["ConditionalVAE_ELBOLossModule"]),
                       ("sams_vae.data.utils.perturbation_datamodule", ["ObservationNormalizationStatistics"])]:
        m = importlib.import_module(mod)
        for n in names:
            ref[n] = getattr(m, n)
    ref["hashes"] = {f: hashlib.sha256(open(os.path.join(src, f), "rb").read()).hexdigest()[:16] for f in REF_FILES}
    return ref


def build(case, ref, torch, stats, s):
    G, T, L = s["G"], s["T"], s["L"]
    dec = dict(likelihood_key="library_nb", decoder_n_layers=s["decoder_n_layers"], decoder_n_hidden=s["decoder_hidden"])
    enc = dict(basal_encoder_n_layers=s["basal_layers"], basal_encoder_n_hidden=s["basal_hidden"],
               basal_encoder_input_normalization="log_standardize", x_normalization_stats=stats)
    if case.startswith("sams_vae"):
        model = ref["SAMSVAEModel"](n_latent=L, n_treatments=T, n_phenos=G, mask_prior_prob=0.3,
                                    embedding_prior_scale=1.0, **dec)
        inference = "correlated" if case == "sams_vae_iwelbo" else case[len("sams_vae_"):]
        mean_field_encoder = inference in ("correlated_e", "mean_field")
        if inference in ("correlated", "correlated_e"):
            guide = ref["SAMSVAECorrelatedNormalGuide"](n_latent=L, n_treatments=T, n_phenos=G,
                                                        embedding_encoder_n_layers=s["emb_layers"],
                                                        embedding_encoder_n_hidden=s["emb_hidden"],
                                                        mean_field_encoder=mean_field_encoder, **enc)
        else:
            guide = ref["SAMSVAEMeanFieldNormalGuide"](n_latent=L, n_treatments=T, n_phenos=G,
                                                       mean_field_encoder=mean_field_encoder, **enc)
        loss_cls = ref["SAMSVAE_IWELBOLossModule" if case == "sams_vae_iwelbo" else "SAMSVAE_ELBOLossModule"]
        return model, guide, loss_cls(model=model, guide=guide), "sams_vae", inference
    if case.startswith("cpa_vae"):
        inference = case[len("cpa_vae_"):]
        model = ref["CPAVAEModel"](n_latent=L, n_treatments=T, n_phenos=G, embedding_prior_scale=1.0, **dec)
        guide = ref["CPAVAENormalGuide"](n_latent=L, n_treatments=T, n_phenos=G,
                                         mean_field_encoder=inference == "mean_field", **enc)
        return model, guide, ref["CPAVAE_ELBOLossModule"](model=model, guide=guide), "cpa_vae", inference
    model = ref["ConditionalVAEModel"](n_latent=L, n_treatments=T, n_phenos=G, **dec)
    guide = ref["ConditionalVAEGuide"](n_latent=L, n_treatments=T, n_phenos=G, encoder_n_layers=s["basal_layers"],
                                       encoder_n_hidden=s["basal_hidden"], encoder_input_normalization="log_standardize",
                                       x_normalization_stats=stats)
    return model, guide, ref["ConditionalVAE_ELBOLossModule"](model=model, guide=guide), "conditional_vae", "correlated"


def make_case(case, ref, torch, np):
    s = SHAPE
    G, T, L, B, P = s["G"], s["T"], s["L"], s["B"], s["P"]
    rng = np.random.default_rng(CASES.index(case) + 100)
    # Cells {0}, {1}, {0, 2} (a combination), control, {2}, {1}; treatment 3 has no cell (N_t = 0).
    treat = [[0], [1], [0, 2], [], [2], [1]]
    X = np.floor(rng.uniform(0, 12, size=(B, G)))
    X[X < 3] = 0
    D = np.zeros((B, T))
    for n, ts in enumerate(treat):
        D[n, ts] = 1
    D_obs = np.array([3.0, 2.0, 2.0, 0.0])
    log_mean, log_std = rng.uniform(0.2, 1.0, size=G), rng.uniform(0.5, 1.5, size=G)
    torch.manual_seed(20 + CASES.index(case))
    stats = ref["ObservationNormalizationStatistics"](x_mean=torch.zeros(G), x_std=torch.ones(G),
                                                      log_x_mean=torch.tensor(log_mean),
                                                      log_x_std=torch.tensor(log_std))
    model, guide, loss_module, mtype, inference = build(case, ref, torch, stats, s)
    with torch.no_grad():  # parameters away from their initial values
        pd = getattr(guide, "param_dict", {})
        if "q_mask_logits" in pd:
            pd["q_mask_logits"].copy_(torch.tensor(rng.uniform(-2.5, 2.5, size=(T, L))))
        if "q_E_loc" in pd:
            pd["q_E_loc"].copy_(torch.tensor(rng.normal(0, 0.7, size=(T, L))))
            pd["q_E_log_scale"].copy_(torch.tensor(rng.uniform(-1, 0.5, size=(T, L))))
        model.decoder.log_concentration.copy_(torch.tensor(rng.uniform(-1, 1.5, size=G)))

    masks, e_in_guide = mtype == "sams_vae", mtype != "conditional_vae"
    noise = {"mask_u": rng.uniform(0.02, 0.98, size=(P, T, L)) if masks else None,
             "emb_eps": rng.standard_normal((P, T, L)) if e_in_guide else None,
             "z_eps": rng.standard_normal((P, B, L))}
    uniforms = [torch.tensor(noise["mask_u"])] if masks else []
    normals = ([torch.tensor(noise["emb_eps"])] if e_in_guide else []) + [torch.tensor(noise["z_eps"])]
    Xt, Dt = torch.tensor(X), torch.tensor(D)
    fed = FedNoise(torch, uniforms, normals)
    real_rand, real_normal = torch.rand, torch.distributions.normal._standard_normal
    torch.rand, torch.distributions.normal._standard_normal = fed.rand, fed.standard_normal
    try:
        loss, metrics = loss_module.loss(X=Xt, D=Dt, D_obs_counts=torch.tensor(D_obs),
                                         condition_values={"library_size": Xt.sum(1)}, n_particles=P)
    finally:
        torch.rand, torch.distributions.normal._standard_normal = real_rand, real_normal
    if fed.uniforms or fed.normals:
        sys.exit(f"make_sams_vae_oracle.py: {case}: the reference drew less noise than the fixture holds")
    loss.backward()
    with torch.no_grad():
        norm = guide.normalization_module(Xt).numpy()
    names = {"loss_term_reconstruction": "recon", "loss_term_z_basal": "kl_z", "loss_term_z": "kl_z",
             "loss_term_E": "kl_emb", "loss_term_mask": "kl_mask"}
    terms = {"loss": float(loss)}
    terms.update({names[k]: float(v) for k, v in metrics.items() if k in names})
    return {
        "case": case,
        "reference": "github insitro/sams-vae 10d781c",
        "generator": "tests/oracle/make_sams_vae_oracle.py",
        "torch": torch.__version__,
        "config": dict(s, type=mtype, inference=inference, mask_prior=0.3, embedding_prior_scale=1.0,
                       iwelbo=case == "sams_vae_iwelbo"),
        "batch": {"counts": X.reshape(-1).tolist(), "library": X.sum(1).tolist(),
                  "norm_x": norm.reshape(-1).tolist(), "treatments": treat, "D_obs_counts": D_obs.tolist()},
        "noise": {k: v.reshape(-1).tolist() for k, v in noise.items() if v is not None},
        "params": {k: {"shape": list(v.shape), "values": v.detach().reshape(-1).tolist()}
                   for k, v in loss_module.named_parameters()},
        "terms": terms,
        "grads": {k: v.grad.reshape(-1).tolist() for k, v in loss_module.named_parameters()},
        "ref_files": ref["hashes"],
    }


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--ref-src", required=True, help="folder holding sams_vae/ of insitro/sams-vae at 10d781c")
    p.add_argument("--out", required=True, help="folder for <case>.json")
    a = p.parse_args()
    import numpy as np
    import torch
    torch.set_default_dtype(torch.float64)
    ref = import_reference(a.ref_src)
    for case in CASES:
        write_fixture(os.path.join(a.out, f"{case}.json"), make_case(case, ref, torch, np))


if __name__ == "__main__":
    main()
