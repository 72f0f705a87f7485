#!/usr/bin/env python3
"""Writes the preprocessing oracle: tests/oracle/preprocess_240.h5ad (240 real cells of the embedded Papalexi data,
tests/data/fuzz_base_240.h5ad, plus a seeded `split` column) and tests/oracle/preprocess_240.json, what numpy,
scipy and POT compute on it, independently of the engine, for the steps of docs/model.md §6 and D1, D7, D8:

    qc_fail           the MAD rules: total counts or detected genes below median - 3 MAD, or the percentage of
                      mitochondrial (MT-), ribosomal (RPS/RPL) or haemoglobin genes above median + 3 MAD, MAD the
                      unscaled median absolute deviation (numpy)
    normalize_target  the median total count of the cells
    norm_mean/std     per gene mean and unbiased std (ddof 1) of log1p(counts) over the train split; std 0 -> 1
    matched_control   per split and per label: ot.sinkhorn(uniform, uniform, C, reg 1.0) (POT, its defaults) with
                      C = Euclidean distance / 100 between log1p(normalize_total) profiles restricted to the measured
                      perturbed genes, each cell matched to the argmax of its plan row; `match_candidates` lists every
                      control tied with the best (identical profiles on these genes give identical plan entries),
                      `match_margin` the relative gap between the best and the second-best entry
    match_candidates_blocked  the same with preprocess.ot_block_mb = BLOCK_MB (labels over it matched in blocks)
    treatment_expr    Y_n over the treatment genes (sorted perturbed genes; 0 where a gene is not measured),
                      Y = log1p(x * target / sum x); the test forms ΔX = |Y_n - Y_m| with the engine's match m (a
                      group of few cells has a plan with tied columns, and then any tied control is a valid match)
    delta             |Y_n - Y_match(n)| with POT's match

The engine reads the same .h5ad with data.split_column = split (tests/test_oracle_preprocess.cpp).
    pip install pot anndata scipy
    python3 tests/oracle/make_preprocess_oracle.py
(written with numpy 2.4, POT 0.9.7, anndata 0.12.19; the versions are stored in the JSON)
"""
import json
import os

import anndata as ad
import numpy as np
import ot
import scipy.sparse as sp

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "..", "data", "fuzz_base_240.h5ad")
HB = {"HBA1", "HBA2", "HBB", "HBD", "HBE1", "HBG1", "HBG2", "HBM", "HBQ1", "HBZ"}


def mad(v):
    return np.median(np.abs(v - np.median(v)))


# 1,572 bytes = 196 doubles: blocks of at most 6 cells against the 32 training controls, 11 against the 17 test ones
BLOCK_MB = 0.0015


def blocks(n, m, budget_bytes):
    """Row block sizes: the fewest blocks of at most floor(budget / (8 m)) rows (at least 1), sizes near-equal."""
    if budget_bytes is None:
        return [n]
    max_rows = max(1, int(budget_bytes // (8 * m)))
    count = -(-n // max_rows)
    return [n * (b + 1) // count - n * b // count for b in range(count)]


def match_controls(F, labels, split, n_obs, budget_bytes):
    """Per split and label (in blocks when budget_bytes is set): POT's Sinkhorn plan on the Euclidean cost / 100,
    each cell's argmax, the controls tied with it, and the relative margin to the second best."""
    matched, margin, candidates = [None] * n_obs, [None] * n_obs, [None] * n_obs
    for s in ("train", "val", "test"):
        ctrl = np.where((split == s) & (labels == "non-targeting"))[0]
        for lab in sorted(set(labels[split == s])):
            group = np.where((split == s) & (labels == lab))[0]
            at = 0
            for rows in blocks(len(group), len(ctrl), budget_bytes):
                cells = group[at:at + rows]
                at += rows
                C = ot.dist(F[cells], F[ctrl], metric="euclidean") / 100.0
                plan = ot.sinkhorn(np.full(len(cells), 1 / len(cells)), np.full(len(ctrl), 1 / len(ctrl)), C, 1.0)
                for i, n in enumerate(cells):
                    order = np.argsort(-plan[i], kind="stable")
                    matched[n] = int(ctrl[order[0]])
                    # Exact ties (controls with identical profiles on these genes): every tied cell is a valid match.
                    candidates[n] = [int(ctrl[j]) for j in order if plan[i, j] >= plan[i, order[0]] * (1 - 1e-12)]
                    margin[n] = float((plan[i, order[0]] - plan[i, order[1]]) / plan[i, order[0]]) if len(ctrl) > 1 else 1.0
    return matched, margin, candidates


def main():
    a = ad.read_h5ad(SRC)
    rng = np.random.default_rng(5)
    a.obs["split"] = rng.choice(["train", "val", "test"], size=a.n_obs, p=[0.6, 0.2, 0.2])
    out_h5ad = os.path.join(HERE, "preprocess_240.h5ad")
    a.write_h5ad(out_h5ad)

    X = a.X.toarray().astype(np.float64) if sp.issparse(a.X) else np.asarray(a.X, dtype=np.float64)
    genes = list(a.var_names)
    labels = a.obs["perturbation"].astype(str).values
    split = a.obs["split"].values
    lib = X.sum(1)

    # QC flags.
    mt = np.array([g.startswith("MT-") for g in genes])
    ribo = np.array([g.startswith("RPS") or g.startswith("RPL") for g in genes])
    hb = np.array([g in HB for g in genes])
    denom = np.where(lib > 0, lib, 1)
    stats = {"umi": lib, "ngenes": (X > 0).sum(1).astype(np.float64), "mt": 100 * X[:, mt].sum(1) / denom,
             "ribo": 100 * X[:, ribo].sum(1) / denom, "hb": 100 * X[:, hb].sum(1) / denom}
    k = 3.0
    fail = (stats["umi"] < np.median(stats["umi"]) - k * mad(stats["umi"])) | \
           (stats["ngenes"] < np.median(stats["ngenes"]) - k * mad(stats["ngenes"]))
    for key in ("mt", "ribo", "hb"):
        fail |= stats[key] > np.median(stats[key]) + k * mad(stats[key])

    # Normalisation statistics of the train split.
    Ltr = np.log1p(X[split == "train"])
    norm_mean = Ltr.mean(0)
    norm_std = Ltr.std(0, ddof=1)
    norm_std[norm_std == 0] = 1.0

    # Treatment axis: the sorted perturbed genes (no extended genes in this oracle).
    treat = sorted(set(labels) - {"non-targeting"})
    target = float(np.median(lib))
    Y = np.log1p(X * (target / np.where(lib > 0, lib, 1))[:, None])
    feat = [genes.index(t) for t in treat if t in genes]
    matched, margin, candidates = match_controls(Y[:, feat], labels, split, a.n_obs, None)
    # The same with preprocess.ot_block_mb = BLOCK_MB: labels whose kernel (cells x controls doubles) is larger are
    # matched in consecutive blocks of near-equal size, each block against all the split's controls.
    _, _, candidates_blocked = match_controls(Y[:, feat], labels, split, a.n_obs, BLOCK_MB * 1048576)
    tcols = [genes.index(t) if t in genes else -1 for t in treat]
    delta = []
    for n in range(a.n_obs):
        m = matched[n]
        delta.append([abs(Y[n, c] - Y[m, c]) if c >= 0 else 0.0 for c in tcols])

    names = list(a.obs_names)
    fixture = {
        "generator": "tests/oracle/make_preprocess_oracle.py",
        "h5ad": "tests/oracle/preprocess_240.h5ad",
        "versions": {"numpy": np.__version__, "pot": ot.__version__, "anndata": ad.__version__, "scipy": __import__("scipy").__version__},
        "obs_names": names,
        "split": list(split),
        "qc_fail": [int(v) for v in fail],
        "qc_stats_median": {k2: float(np.median(v)) for k2, v in stats.items()},
        "normalize_target": target,
        "genes": genes,
        "norm_mean": norm_mean.tolist(),
        "norm_std": norm_std.tolist(),
        "treatments": treat,
        "matched_control": [names[m] for m in matched],
        "match_candidates": [[names[m] for m in c] for c in candidates],
        "match_margin": margin,
        "block_mb": BLOCK_MB,
        "match_candidates_blocked": [[names[m] for m in c] for c in candidates_blocked],
        "split_labels_blocked": sum(len(blocks(int(((split == s) & (labels == lab)).sum()),
                                               int(((split == s) & (labels == "non-targeting")).sum()),
                                               BLOCK_MB * 1048576)) > 1
                                    for s in ("train", "val", "test") for lab in set(labels[split == s])),
        "delta": delta,
        "treatment_expr": [[float(Y[n, c]) if c >= 0 else 0.0 for c in tcols] for n in range(a.n_obs)],
    }
    path = os.path.join(HERE, "preprocess_240.json")
    with open(path + ".tmp", "w") as f:
        json.dump(fixture, f, separators=(",", ":"))
    os.replace(path + ".tmp", path)
    print(f"{path}: {a.n_obs} cells, {int(fail.sum())} QC fails, {len(treat)} treatments, "
          f"min match margin {min(margin):.2e}")


if __name__ == "__main__":
    main()
