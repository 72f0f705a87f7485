#!/usr/bin/env bash
# Evaluation at the reference scale (docs/performance.md): simulates a file of the K562-essential shape
# (data/configs/sim_reference.json: 129,478 cells x 8,563 genes, T = 1,546), preprocesses it, trains STEPS
# optimizer steps (the model is not the point: evaluation's cost does not depend on how well it is trained) and
# runs `gpo-engine evaluate` on the test split with the default evaluation settings (2,500 ATE particles, 100
# IWELBO particles). Every stage's wall time and peak resident memory go to $OUT/evaluate_scale.json (with device,
# threads and git sha). Used by `make -f Makefile.bench evaluate`. EVAL_SETS adds evaluate overrides, e.g.
# EVAL_SETS="--set evaluate.ate_particles=100" (on 2 cores the ATE costs ~0.33 s per particle at this scale and the
# other stages ~6.5 min, docs/performance.md: ~20 minutes with the default 2,500 particles, ~7 with 100).
set -euo pipefail
BUILD=${BUILD:-build}
OUT=${OUT:-bench_out}
STEPS=${STEPS:-10}
SIM_CONFIG=${SIM_CONFIG:-data/configs/sim_reference.json}
[ -x "$BUILD/gpo-engine" ] || scripts/build.sh
sha=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)  # at the start: the commit the stages ran
mkdir -p "$OUT/evaluate_scale"
work="$OUT/evaluate_scale"
stages="$work/stages.jsonl"
: > "$stages"

# shellcheck source=tools/bench/stage.sh
source "$(dirname "$0")/stage.sh"

sets=(--set "data.path=$work/sim.h5ad" --set data.perturbation_key=perturbation --set data.control_label=non-targeting
      --set data.cell_filter_column=null --set data.extended_gene_column=extended --set data.qc_column=qc_fail
      --set "preprocess.cache_dir=$work/cache" --set train.batch_size=512 --set train.checkpoint_every_seconds=0
      --set model.basal_encoder.hidden=200)
[ -f "$work/sim.h5ad" ] || stage simulate "$BUILD/gpo-engine" simulate --config "$SIM_CONFIG" --out "$work/sim.h5ad"
stage preprocess "$BUILD/gpo-engine" preprocess --config data/configs/demo.json "${sets[@]}"
stage train "$BUILD/gpo-engine" train --config data/configs/demo.json "${sets[@]}" --out "$work/run" --force \
      --max-steps "$STEPS" --device cpu
# shellcheck disable=SC2086  # EVAL_SETS is a list of words
stage evaluate "$BUILD/gpo-engine" evaluate --checkpoint "$work/run/checkpoints/last.ckpt" --device cpu \
      --out "$work/run/eval" ${EVAL_SETS:-}

python3 - "$stages" "$OUT/evaluate_scale.json" "$sha" <<'EOF'
import json, os, platform, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.machine())
out = {"benchmark": "evaluate at the reference scale (129,478 cells x 8,563 genes, T = 1,546)", "git_sha": sys.argv[3],
       "evaluate_overrides": os.environ.get("EVAL_SETS", ""),
       "device": cpu, "hardware_threads": os.cpu_count(), "threads": os.environ.get("OPENBLAS_NUM_THREADS", "default"),
       "stages": rows}
json.dump(out, open(sys.argv[2], "w"), indent=1)
print(f"{'stage':<12} {'seconds':>9} {'peak RSS (MB)':>14}")
for r in rows:
    print(f"{r['stage']:<12} {r['seconds']:>9.1f} {r['peak_rss_mb']:>14.0f}")
print(f"written {sys.argv[2]}")
EOF
