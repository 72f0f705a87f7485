#!/usr/bin/env python3
"""Runs cell-eval itself (its full profile: pdex's DE test included) on the pair `gpo-engine evaluate --export DIR`
wrote and compares its per-perturbation and aggregate values with the engine's report.json for every metric both
compute (docs/metrics.md).

    python3 tests/python/check_cell_eval.py EXPORT_DIR REPORT_JSON

Exit 0 when every shared metric agrees to 1e-4 (absolute, or relative for values above 1), 1 otherwise; 77 when
cell_eval cannot be imported (the caller decides whether that is a skip). The tolerance covers float32: cell-eval
normalises the float32 counts with scanpy in float32 (~1e-7 relative per value) where the engine uses double; the
pseudobulk means and the metrics on top of them stay within ~1e-5 of each other.
"""
import json
import logging
import math
import sys
import tempfile

try:
    import anndata as ad
    import pandas as pd
    from cell_eval import MetricsEvaluator
except ImportError as e:  # pragma: no cover
    print(f"check_cell_eval.py: cell_eval not importable ({e})")
    sys.exit(77)

SHARED = ["pearson_delta", "mse", "mae", "mse_delta", "mae_delta", "discrimination_score_l1",
          "discrimination_score_l2", "discrimination_score_cosine",
          "overlap_at_N", "overlap_at_50", "overlap_at_100", "overlap_at_200", "overlap_at_500",
          "precision_at_N", "precision_at_50", "precision_at_100", "precision_at_200", "precision_at_500",
          "de_direction_match", "de_spearman_lfc_sig", "de_sig_genes_recall", "de_nsig_counts_real",
          "de_nsig_counts_pred", "pr_auc", "roc_auc", "de_spearman_sig"]


def main():
    export, report_path = sys.argv[1], sys.argv[2]
    logging.disable(logging.WARNING)
    report = json.load(open(report_path))
    real = ad.read_h5ad(f"{export}/real.h5ad")
    pred = ad.read_h5ad(f"{export}/pred.h5ad")
    control = real.uns["control_label"]
    with tempfile.TemporaryDirectory() as out:
        ev = MetricsEvaluator(adata_pred=pred, adata_real=real, control_pert=control, pert_col="target_gene",
                              num_threads=1, outdir=out)
        results, agg = ev.compute(profile="full", write_csv=False,
                                  skip_metrics=["pearson_edistance", "clustering_agreement"])
    results = results.to_pandas().set_index("perturbation")
    agg = agg.to_pandas().set_index("statistic")
    bad = 0

    def undefined(x):
        return x is None or (isinstance(x, float) and math.isnan(x))

    def close(a, b):  # both undefined (null in our JSON, NaN or missing in cell-eval's table) counts as equal
        if undefined(a) or undefined(b):
            return undefined(a) and undefined(b)
        return abs(a - b) <= 1e-4 * max(1.0, abs(b))

    rows = {r["perturbation"]: r for r in report["per_perturbation"]}
    for m in SHARED:
        ours = report["metrics"]["model"].get(m)
        theirs = float(agg.loc["mean", m])
        ok = close(ours, theirs)
        bad += not ok
        print(f"{m:30s} engine {ours}  cell-eval {theirs}  {'ok' if ok else 'DIFFERS'}")
        for pert, row in rows.items():
            t = results.loc[pert, m] if pert in results.index else None
            t = None if t is None or pd.isna(t) else float(t)
            if not close(row.get(m), t):
                print(f"  {pert}: engine {row.get(m)}  cell-eval {t}  DIFFERS")
                bad += 1
    print(f"{len(SHARED)} metrics x {len(rows)} perturbations compared, {bad} differ")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
