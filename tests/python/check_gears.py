#!/usr/bin/env python3
"""Computes GEARS's DE-gene metrics on the pair `gpo-engine evaluate --export DIR` wrote, the way GEARS computes them
(snap-stanford/GEARS f374e43), and compares them with the engine's report.json:

- DE genes (gears/data_utils.py get_DE_genes -> rank_genes_groups_by_cov): scanpy's `rank_genes_groups` on the
  log-normalised real cells, grouped by perturbation, reference = the control, rankby_abs=True, n_genes = all genes,
  use_raw=False (scanpy's default method, the t-test); the first 20 names per perturbation
  (`rank_genes_groups_cov_all[...][:20]`, as compute_metrics' de_idx and deeper_analysis' de_idx).
- mse_de and pearson_de (gears/inference.py compute_metrics): sklearn's mean_squared_error and scipy's pearsonr
  (NaN -> 0) between the mean predicted and the mean real profile on those genes; pearson_delta_de
  (deeper_analysis): pearsonr of (mean predicted - mean real control) and (mean real - mean real control) on them.
  Aggregates: the mean over the perturbations (compute_metrics' np.mean).

Each file is normalised on its own as the engine documents for these metrics (docs/metrics.md): scanpy's
normalize_total (to the median total) and log1p.

    python3 tests/python/check_gears.py EXPORT_DIR REPORT_JSON

Exit 0 when every value agrees to 1e-4 (absolute, or relative above 1) and every perturbation's 20 DE genes are the
ones the engine used, 1 otherwise, 77 when scanpy/scipy/sklearn cannot be imported. Tolerance: scanpy works in
float32 (~1e-7 relative per value), the engine in double; means over hundreds of cells and metrics over 20 genes stay
within ~1e-5.
"""
import json
import sys
import warnings

warnings.filterwarnings("ignore")  # scanpy's fragmentation notice, scipy's constant-input notice (handled: NaN -> 0)

try:
    import anndata as ad
    import numpy as np
    import scanpy as sc
    from scipy.stats import pearsonr
    from sklearn.metrics import mean_squared_error as mse
except ImportError as e:  # pragma: no cover
    print(f"check_gears.py: scanpy, scipy or sklearn not importable ({e})")
    sys.exit(77)


def normalised(path):
    a = ad.read_h5ad(path)
    sc.pp.normalize_total(a)
    sc.pp.log1p(a)
    return a


def mean_of(a, mask):
    x = a.X[mask]
    return np.asarray(x.mean(axis=0)).reshape(-1)


def main():
    export, report_path = sys.argv[1], sys.argv[2]
    report = json.load(open(report_path))
    real = normalised(f"{export}/real.h5ad")
    pred = normalised(f"{export}/pred.h5ad")
    control = real.uns["control_label"]
    col = "target_gene"
    real.obs[col] = real.obs[col].astype("category")
    sc.tl.rank_genes_groups(real, groupby=col, reference=control, rankby_abs=True, n_genes=real.n_vars,
                            use_raw=False)
    names = real.uns["rank_genes_groups"]["names"]
    ctrl = mean_of(real, (real.obs[col] == control).values)
    gene_index = {g: i for i, g in enumerate(real.var_names)}
    rows = {r["perturbation"]: r for r in report["per_perturbation"]}
    bad = 0

    def close(a, b):
        ok = a is not None and abs(a - b) <= 1e-4 * max(1.0, abs(b))
        return ok

    per = {"mse_de": [], "pearson_de": [], "pearson_delta_de": []}
    for pert in sorted(rows):
        de = [gene_index[g] for g in list(names[pert])[:20]]
        t = mean_of(real, (real.obs[col] == pert).values)
        p = mean_of(pred, (pred.obs[col] == pert).values)
        r = pearsonr(p[de], t[de])[0]
        rd = pearsonr(p[de] - ctrl[de], t[de] - ctrl[de])[0]
        vals = {"mse_de": mse(p[de], t[de]), "pearson_de": 0.0 if np.isnan(r) else r,
                "pearson_delta_de": 0.0 if np.isnan(rd) else rd}
        engine_de = rows[pert].get("gears_de_genes", "").split(";")
        if sorted(engine_de) != sorted(real.var_names[de].tolist()):
            print(f"  {pert}: DE genes differ: engine {sorted(engine_de)} scanpy {sorted(real.var_names[de])}")
            bad += 1
        for m, v in vals.items():
            per[m].append(v)
            if not close(rows[pert].get(m), v):
                print(f"  {pert}: {m} engine {rows[pert].get(m)}  GEARS {v}  DIFFERS")
                bad += 1
    for m, v in per.items():
        theirs = float(np.mean(v))
        ours = report["metrics"]["model"].get(m)
        ok = close(ours, theirs)
        bad += not ok
        print(f"{m:20s} engine {ours}  GEARS {theirs}  {'ok' if ok else 'DIFFERS'}")
    print(f"3 metrics x {len(rows)} perturbations compared, {bad} differ")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
