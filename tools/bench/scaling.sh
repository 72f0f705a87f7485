#!/usr/bin/env bash
# Data-parallel scaling on this machine's CPUs (docs/scaling.md): `gpo-engine train` on CONFIG (default: the demo,
# the README's model) with 1 rank and with RANKS ranks (default 2) under mpirun, one CPU thread per rank, plus one
# rank with RANKS threads for comparison. Steps/s come from two runs per setting (STEPS_A and STEPS_B optimizer
# steps; the difference cancels start-up and preprocessing). Writes $OUT/scaling.json (device, threads, git sha,
# steps/s, efficiency = steps/s(N ranks) / (N x steps/s(1 rank))) and prints a table; then times the per-step
# collectives on RANKS ranks (build/bench_comm: one all-reduce against reduce-scatter + all-gather of 1 M to 100 M
# floats; $OUT/comm.json).
# Used by `make -f Makefile.bench scaling`.
set -euo pipefail
BUILD=${BUILD:-build}
OUT=${OUT:-bench_out}
CONFIG=${CONFIG:-data/configs/demo.json}
RANKS=${RANKS:-2}
STEPS_A=${STEPS_A:-20}
STEPS_B=${STEPS_B:-120}
command -v mpirun > /dev/null || { echo "scaling.sh: mpirun not found (scripts/setup-deps.sh installs openmpi-bin)" >&2; exit 2; }
[ -x "$BUILD/gpo-engine" ] && [ -x "$BUILD/bench_comm" ] || scripts/build.sh
"$BUILD/gpo-engine" info | grep -q "MPI: *yes" || { echo "scaling.sh: $BUILD/gpo-engine has no MPI (install libopenmpi-dev, rebuild)" >&2; exit 2; }
mkdir -p "$OUT"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1

# seconds for one run: $1 = ranks, $2 = threads per rank, $3 = steps
run_seconds() {
  local launch=()
  [ "$1" -gt 1 ] && launch=(mpirun -np "$1")
  local t0 t1
  t0=$(date +%s.%N)
  OPENBLAS_NUM_THREADS=$2 "${launch[@]}" "$BUILD/gpo-engine" train --config "$CONFIG" --out "$work/run" --force \
      --device cpu --max-steps "$3" --set train.checkpoint_every_seconds=0 > "$work/log" 2>&1 \
      || { cat "$work/log" >&2; exit 1; }
  t1=$(date +%s.%N)
  python3 -c "print($t1 - $t0)"
}

# warm the preprocessing cache once
run_seconds 1 1 1 > /dev/null
results="$work/results.jsonl"
: > "$results"
for setting in "1 1" "$RANKS 1" "1 $RANKS"; do
  set -- $setting
  a=$(run_seconds "$1" "$2" "$STEPS_A")
  b=$(run_seconds "$1" "$2" "$STEPS_B")
  python3 -c "import json; print(json.dumps({'ranks': $1, 'threads_per_rank': $2, 'steps': $STEPS_B - $STEPS_A, \
'seconds': $b - $a, 'steps_per_s': ($STEPS_B - $STEPS_A) / ($b - $a)}))" >> "$results"
done
python3 - "$results" "$OUT/scaling.json" "$CONFIG" "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" <<'EOF'
import json, os, platform, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
base = rows[0]["steps_per_s"]
for r in rows:
    n = r["ranks"] * r["threads_per_rank"]
    r["speedup"] = r["steps_per_s"] / base
    r["efficiency"] = r["speedup"] / n
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.machine())
out = {"benchmark": "data-parallel scaling (gpo-engine train under mpirun)", "config": sys.argv[3],
       "git_sha": sys.argv[4], "device": cpu, "hardware_threads": os.cpu_count(), "results": rows}
json.dump(out, open(sys.argv[2], "w"), indent=1)
print(f"{'ranks':>5} {'threads/rank':>12} {'steps/s':>8} {'speedup':>8} {'efficiency':>10}")
for r in rows:
    print(f"{r['ranks']:>5} {r['threads_per_rank']:>12} {r['steps_per_s']:>8.2f} {r['speedup']:>8.2f} {r['efficiency']:>10.2f}")
print(f"written {sys.argv[2]} ({cpu}, git {sys.argv[4]})")
EOF
mpirun -np "$RANKS" "$BUILD/bench_comm" --out "$OUT/comm.json"
