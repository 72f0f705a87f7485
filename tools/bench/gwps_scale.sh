#!/usr/bin/env bash
# The genome-wide shape end to end on one node (docs/scaling.md): simulates a GWPS-shaped file
# (data/configs/sim_gwps.json: 500,000 cells x 8,000 measured genes, 9,900 perturbed genes of which 7,100 are not
# measured, 100 extended genes: T = 10,000), preprocesses it with the count matrices kept on disk past
# preprocess.counts_in_memory_mb (BUDGET_MB, default 1024), and trains STEPS (default 50) optimizer steps of 512
# cells from the cache. Every stage's wall time and peak resident memory go to $OUT/gwps_scale.json (with device,
# threads, git sha, the file's size). Used by `make -f Makefile.bench gwps`. CELLS overrides the cell count (a
# quick look: CELLS=50000).
set -euo pipefail
BUILD=${BUILD:-build}
OUT=${OUT:-bench_out}
STEPS=${STEPS:-50}
BUDGET_MB=${BUDGET_MB:-1024}
CELLS=${CELLS:-500000}
[ -x "$BUILD/gpo-engine" ] || scripts/build.sh
work="$OUT/gwps"
mkdir -p "$work"
stages="$work/stages.jsonl"
: > "$stages"

# shellcheck source=tools/bench/stage.sh
source "$(dirname "$0")/stage.sh"

sim="$work/sim_$CELLS.h5ad"
sets=(--set "data.path=$sim" --set data.perturbation_key=perturbation --set data.control_label=non-targeting
      --set data.cell_filter_column=null --set data.extended_gene_column=extended --set data.qc_column=qc_fail
      --set "preprocess.cache_dir=$work/cache" --set "preprocess.counts_in_memory_mb=$BUDGET_MB"
      --set train.batch_size=512 --set train.checkpoint_every_seconds=0 --set model.basal_encoder.hidden=200)
if [ -f "$sim" ] && [ -f "$work/simulate_$CELLS.time" ]; then  # simulated by an earlier run: its measured row
  read -r secs kb < "$work/simulate_$CELLS.time"
  python3 -c "import json; print(json.dumps({'stage': 'simulate', 'seconds': $secs, 'peak_rss_mb': $kb / 1024,
              'note': 'an earlier run of this script'}))" >> "$stages"
else
  stage simulate "$BUILD/gpo-engine" simulate --config data/configs/sim_gwps.json --set "cells=$CELLS" --out "$sim"
  cp "$work/simulate.time" "$work/simulate_$CELLS.time"
fi
rm -rf "$work/cache"  # preprocessing is measured, not a cache hit
stage preprocess "$BUILD/gpo-engine" preprocess --config data/configs/demo.json "${sets[@]}"
stage train "$BUILD/gpo-engine" train --config data/configs/demo.json "${sets[@]}" --out "$work/run" --force \
      --max-steps "$STEPS" --device cpu

python3 - "$stages" "$OUT/gwps_scale.json" "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" "$sim" \
          "$BUDGET_MB" "$STEPS" <<'PY'
import json, os, platform, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.machine())
out = {"benchmark": "genome-wide shape end to end (simulate, preprocess, train steps)", "git_sha": sys.argv[3],
       "file": sys.argv[4], "file_bytes": os.path.getsize(sys.argv[4]), "counts_in_memory_mb": float(sys.argv[5]),
       "train_steps": int(sys.argv[6]), "device": cpu, "hardware_threads": os.cpu_count(),
       "threads": os.environ.get("OPENBLAS_NUM_THREADS", "default"), "stages": rows}
json.dump(out, open(sys.argv[2], "w"), indent=1)
print(f"file {sys.argv[4]}: {out['file_bytes'] / 1e9:.2f} GB")
print(f"{'stage':<12} {'seconds':>9} {'peak RSS (MB)':>14}")
for r in rows:
    print(f"{r['stage']:<12} {r['seconds']:>9.1f} {r['peak_rss_mb']:>14.0f}")
print(f"written {sys.argv[2]}")
PY
