#!/usr/bin/env bash
# The quality benchmark (`make -f Makefile.bench quality`): trains every model type on the embedded data to early
# stopping with fixed seeds (several for the headline model, gpo_vae), evaluates each on the test split, ranks the
# GPO-VAE GRNs against TRRUST and STRING when the reference networks are found, and writes one table:
#   $OUT/quality.md    model vs the baselines (no change, mean of perturbed, training mean) on cell-eval's metrics
#                      and the papers' ATE metrics, mean and spread over seeds
#   $OUT/quality.json  every number, with the commit, date, machine and thread count
# Each model trains from its demo config (gpo_vae: data/configs/demo.json, the README's; the others:
# data/configs/<type>_demo.json), all with early stopping at patience 30 as the reference.
# Settings (environment): MODELS, SEEDS (gpo_vae's), OTHER_SEEDS (the
# other models'), GRN_DIR (folder with trrust_v2_human.tsv and string_v12_*.tsv.gz; default ../shared/data/grn),
# EXTRA (more --set overrides for every run, e.g. "--set train.max_epochs=5" for a smoke test), CELLS_PER_REAL (10:
# each model is evaluated a second time with that many model cells per real cell, evaluate.cells_per_real, for a
# second table of the metrics computed on the predicted cells; 1 = no second table), TABLE_ONLY=1 (only rebuild the
# table from the runs in $OUT).
# Docs: docs/quality.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
OUT=${OUT:-bench_out/quality}
MODELS=${MODELS:-"gpo_vae sams_vae cpa_vae conditional_vae"}
SEEDS=${SEEDS:-"0 1 2"}
OTHER_SEEDS=${OTHER_SEEDS:-"0"}
GRN_DIR=${GRN_DIR:-../shared/data/grn}
EXTRA=${EXTRA:-}
CELLS_PER_REAL=${CELLS_PER_REAL:-10}
[ -x "$BUILD/gpo-engine" ] || scripts/build.sh
mkdir -p "$OUT/runs"

refs=()
trrust="$GRN_DIR/trrust_v2_human.tsv"
string=$(ls "$GRN_DIR"/string_v12_*.tsv.gz 2>/dev/null | head -1 || true)
[ -f "$trrust" ] && refs+=(--reference "$trrust")
[ -n "$string" ] && refs+=(--reference "$string,header,source=gene1,target=gene2,undirected")
[ ${#refs[@]} -eq 0 ] && echo "quality.sh: no reference networks in $GRN_DIR (GRN rows left out)" >&2

# TABLE_ONLY=1: skip training and evaluation, only rebuild the table from the runs already in $OUT.
for model in $MODELS; do
  [ "${TABLE_ONLY:-0}" = 1 ] && break
  seeds=$OTHER_SEEDS
  config=data/configs/${model}_demo.json
  if [ "$model" = gpo_vae ]; then seeds=$SEEDS; config=data/configs/demo.json; fi
  for seed in $seeds; do
    run="$OUT/runs/$model-seed$seed"
    echo "== $model seed $seed -> $run"
    start=$(date +%s)
    # shellcheck disable=SC2086
    "$BUILD/gpo-engine" train --config "$config" --out "$run" --force --set "train.seed=$seed" $EXTRA > "$run.train.log" 2>&1 || { tail -5 "$run.train.log"; exit 1; }
    echo $(( $(date +%s) - start )) > "$run.train_seconds"
    "$BUILD/gpo-engine" evaluate --checkpoint "$run/checkpoints/best.ckpt" --out "$run/eval" > "$run.eval.log" 2>&1 \
        || { tail -5 "$run.eval.log"; exit 1; }
    if [ "$CELLS_PER_REAL" != 1 ]; then
      "$BUILD/gpo-engine" evaluate --checkpoint "$run/checkpoints/best.ckpt" --out "$run/eval_cells$CELLS_PER_REAL" \
          --set "evaluate.cells_per_real=$CELLS_PER_REAL" > "$run.eval_cells.log" 2>&1 || { tail -5 "$run.eval_cells.log"; exit 1; }
    fi
    if [ "$model" = gpo_vae ] && [ ${#refs[@]} -gt 0 ]; then
      "$BUILD/gpo-engine" grn --checkpoint "$run/checkpoints/best.ckpt" --out "$run/grn" "${refs[@]}" \
          --random-sets 100 > "$run.grn.log" 2>&1 || { tail -5 "$run.grn.log"; exit 1; }
    fi
  done
done

# Synthetic GRN recovery at the simulator's default noise, every perturbed gene measured (tests/test_grn_recovery.cpp:
# five simulation seeds, AUROC of sigmoid(W) against the true network of the perturbed block).
if { [ "${TABLE_ONLY:-0}" != 1 ] || [ ! -f "$OUT/grn_recovery.log" ]; } && [ -x "$BUILD/gpo_tests" ]; then
  "$BUILD/gpo_tests" --gtest_filter=GrnRecovery.LearnedMaskRanksTrueEdgesOfThePerturbedBlock > "$OUT/grn_recovery.log" 2>&1 || true
fi

python3 - "$OUT" "data/configs/*demo.json" "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" "$MODELS" \
    "$CELLS_PER_REAL" <<'PY'
import glob, json, math, os, platform, re, statistics, sys, datetime
out, config, sha, models, per_real = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4].split(), int(sys.argv[5])
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.machine())
runs = {}
for d in sorted(glob.glob(os.path.join(out, "runs", "*-seed*"))):
    if not os.path.isdir(d):
        continue
    model, seed = re.match(r"(.*)-seed(\d+)$", os.path.basename(d)).groups()
    if model not in models:
        continue
    rep = json.load(open(os.path.join(d, "eval", "report.json")))
    rep_cells = os.path.join(d, f"eval_cells{per_real}", "report.json")
    rep_cells = json.load(open(rep_cells)) if per_real != 1 and os.path.exists(rep_cells) else None
    log = [json.loads(l) for l in open(os.path.join(d, "metrics.jsonl"))]
    epochs = [r for r in log if "val_loss" in r]
    grn = None
    gj = os.path.join(d, "grn", "grn_report.json")
    if os.path.exists(gj):
        g = json.load(open(gj))
        grn = g.get("biological")
    block = None  # the perturbed block's edge probabilities: how far they moved from their start of 0.5
    try:
        import anndata, numpy as np
        g = anndata.read_h5ad(os.path.join(d, "grn", "grn_matrices.h5ad"))
        p = np.asarray(g.obs["perturbed"]).astype(bool)
        prob = 1 / (1 + np.exp(-np.asarray(g.layers["logits"])))[np.ix_(p, p)]
        off = prob[~np.eye(prob.shape[0], dtype=bool)]
        block = {"min": float(off.min()), "median": float(np.median(off)), "max": float(off.max()),
                 "sd": float(off.std())}
    except Exception:
        pass
    runs.setdefault(model, []).append({
        "grn_probabilities": block,
        "seed": int(seed), "report": rep, "report_cells": rep_cells, "grn": grn,
        "epochs": len(epochs),
        "best_val": min((r["val_loss"] for r in epochs), default=float("nan")),
        "train_seconds": int(open(d + ".train_seconds").read()),
    })

rows = ["pearson_delta", "mse", "mae", "mse_delta", "mae_delta", "discrimination_score_l1",
        "discrimination_score_l2", "discrimination_score_cosine", "overlap_at_N", "precision_at_N",
        "de_direction_match", "de_sig_genes_recall", "ate_pearson", "ate_r2", "ate_pearson_top20", "ate_r2_top20",
        "jaccard_top20", "jaccard_top50", "mse_de", "pearson_de", "pearson_delta_de"]
lower_better = {"mse", "mae", "mse_delta", "mae_delta", "mse_de"}

def val(x):
    return x if isinstance(x, (int, float)) and x is not None and not (isinstance(x, float) and math.isnan(x)) else None

def cell(vals):
    vals = [v for v in vals if v is not None]
    if not vals:
        return "n/a"
    m = statistics.fmean(vals)
    if len(vals) == 1:
        return f"{m:.3g}"
    return f"{m:.3g} ± {statistics.stdev(vals):.2g}"

base_names = ["no_change", "perturbed_mean", "train_mean", "linear"]
first = next(iter(runs.values()))[0]["report"]["metrics"]["baselines"] if runs else {}
header = [m for m in models if m in runs] + base_names
lines = ["| metric | " + " | ".join(header) + " |", "|---" * (len(header) + 1) + "|"]
for r in rows:
    cells = []
    for m in models:
        if m in runs:
            cells.append(cell([val(x["report"]["metrics"]["model"].get(r)) for x in runs[m]]))
    for b in base_names:
        cells.append(cell([val(first.get(b, {}).get(r))]))
    arrow = "↓" if r in lower_better else "↑"
    lines.append(f"| {r} {arrow} | " + " | ".join(cells) + " |")
lines.append("| IWELBO ↑ | " + " | ".join(cell([val(x["report"]["iwelbo"]["mean"]) for x in runs[m]])
                                    for m in models if m in runs) + " |" + " |" * len(base_names))
lines.append("| epochs trained (early stopping, patience 30; cap 300) | " + " | ".join(cell([x["epochs"] for x in runs[m]])
                                                    for m in models if m in runs) + " |" + " |" * len(base_names))
lines.append("| training minutes | " + " | ".join(cell([x["train_seconds"] / 60 for x in runs[m]])
                                            for m in models if m in runs) + " |" + " |" * len(base_names))
# The metrics computed on predicted cells again, with per_real model cells per real cell (the ATE rows and the
# baselines, which are profiles, do not change).
cell_rows = ["pearson_delta", "mse", "mae", "mse_delta", "mae_delta", "discrimination_score_l1",
             "discrimination_score_l2", "discrimination_score_cosine", "overlap_at_N", "precision_at_N",
             "de_direction_match", "de_sig_genes_recall", "de_nsig_counts_pred", "mse_de", "pearson_de",
             "pearson_delta_de"]
with_cells = [m for m in models if m in runs and all(x["report_cells"] for x in runs[m])]
cells_lines = []
if with_cells:
    cells_lines = ["| metric | " + " | ".join(with_cells + base_names) + " |", "|---" * (len(with_cells) + len(base_names) + 1) + "|"]
    for r in cell_rows:
        cells = [cell([val(x["report_cells"]["metrics"]["model"].get(r)) for x in runs[m]]) for m in with_cells]
        cells += [cell([val(first.get(b, {}).get(r))]) for b in base_names]
        arrow = "↓" if r in lower_better else ("" if r == "de_nsig_counts_pred" else "↑")
        cells_lines.append(f"| {r} {arrow} | " + " | ".join(cells) + " |")
grn_lines = []
for x in runs.get("gpo_vae", []):
    for g in x["grn"] or []:
        grn_lines.append((x["seed"], os.path.basename(str(g.get("reference", g.get("file", "?")))),
                          g.get("auroc"), g.get("auprc"), x["grn_probabilities"]))
md = [f"Quality benchmark: commit {sha}, {datetime.date.today()}, {cpu}, config {config}.", "",
      "Test split of the embedded data; model columns: mean ± sd over seeds "
      + ", ".join(f"{m} ({len(runs[m])})" for m in models if m in runs) + ".", ""] + lines
if cells_lines:
    real_de = cell([val(runs[with_cells[0]][0]["report"]["metrics"]["model"].get("de_nsig_counts_real"))])
    md += ["", f"The same models with {per_real} model cells per real cell (`evaluate.cells_per_real={per_real}`, "
           f"each at its real cell's library size): the metrics computed on the predicted cells; real DE genes per "
           f"perturbation {real_de}.", ""] + cells_lines
if grn_lines:
    md += ["", "GPO-VAE GRN, perturbed block against reference networks:", "",
           "| seed | reference | AUROC | AUPRC | edge probabilities min / median / max |", "|---|---|---|---|---|"]
    md += [f"| {s} | {ref} | {a if a is None else round(a, 3)} | {p if p is None else round(p, 3)} | "
           + (f"{b['min']:.3f} / {b['median']:.3f} / {b['max']:.3f}" if b else "n/a") + " |"
           for s, ref, a, p, b in grn_lines]
rec = os.path.join(out, "grn_recovery.log")
if os.path.exists(rec):
    aurocs = [float(m) for m in re.findall(r"AUROC of sigmoid\(W\) = ([0-9.]+)", open(rec).read())]
    if aurocs:
        md += ["", f"Synthetic GRN recovery (simulated data, every perturbed gene measured, default noise, "
               f"{len(aurocs)} seeds; tests/test_grn_recovery.cpp): AUROC of σ(W) against the true network "
               + ", ".join(f"{a:.3f}" for a in aurocs) + f" (mean {statistics.fmean(aurocs):.3f})."]
open(os.path.join(out, "quality.md"), "w").write("\n".join(md) + "\n")
json.dump({"git_sha": sha, "date": str(datetime.date.today()), "machine": cpu, "config": config,
           "threads": os.environ.get("OPENBLAS_NUM_THREADS", "default"),
           "runs": {m: [{k: v for k, v in x.items()} for x in runs[m]] for m in runs}},
          open(os.path.join(out, "quality.json"), "w"), indent=1)
print("\n".join(md))
PY
