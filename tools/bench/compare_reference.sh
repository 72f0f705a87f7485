#!/usr/bin/env bash
# Side by side: gpo-engine's bench_train and the published PyTorch reference's own model, guide and loss classes
# (tools/bench/reference/ref_gpo_vae_step.py; dmis-lab/GPO-VAE at d554eed), at one shape, with the same thread
# count, interleaved (engine, reference, engine, reference) so both see the same machine state. Writes one JSON line
# per run to $OUT/compare.jsonl and prints a table. Used by `make -f Makefile.bench compare`.
#
# Needs a Python environment with the reference's packages and a copy of its source (once per machine):
#   python3 -m venv ../refvenv && ../refvenv/bin/pip install torch==2.4.0 pyro-ppl==1.9.1 pytorch-lightning==2.4.0 \
#       "numpy<2" pandas scipy anndata==0.10.8   (the reference's modules import Lightning and anndata)
#   mkdir ../gpo-vae-ref && git --git-dir=<a git copy of dmis-lab/GPO-VAE> archive d554eed gpo_vae | tar -x -C ../gpo-vae-ref
# and REF_PY / REF_SRC pointing at them (defaults: ../refvenv/bin/python, ../gpo-vae-ref).
set -euo pipefail
BUILD=${BUILD:-build}
OUT=${OUT:-bench_out}
REF_PY=${REF_PY:-../refvenv/bin/python}
REF_SRC=${REF_SRC:-../gpo-vae-ref}
SHAPE=${SHAPE:-demo}
THREADS=${THREADS:-"1 2"}
case "$SHAPE" in
  demo) flags="--genes 299 --perturbed 25 --extended 13 --batch 128 --basal-hidden 400 --nnz 67 --fc-criteria 0.4 --penalty 1"
        eng_steps=30; ref_steps=30 ;;
  k562) flags="--genes 8563 --perturbed 622 --extended 924 --batch 512 --basal-hidden 200 --nnz 1500 --fc-criteria 0.8 --penalty 5"
        eng_steps=3; ref_steps=3 ;;
  *) echo "compare_reference.sh: SHAPE must be demo or k562" >&2; exit 2 ;;
esac
if [ ! -x "$REF_PY" ] || [ ! -d "$REF_SRC/gpo_vae" ]; then
  echo "compare_reference.sh: the reference environment is missing (REF_PY=$REF_PY, REF_SRC=$REF_SRC)." >&2
  sed -n '7,11p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
[ -x "$BUILD/bench_train" ] || scripts/build.sh
mkdir -p "$OUT"
log="$OUT/compare.jsonl"
: > "$log"
for t in $THREADS; do
  for rep in 1 2; do
    OPENBLAS_NUM_THREADS=$t OMP_NUM_THREADS=$t "$BUILD/bench_train" --out "$OUT/compare_engine.json" \
        --cpu-steps "$eng_steps" --cuda-steps 0 $flags > /dev/null
    python3 -c "import json,sys; r=json.load(open('$OUT/compare_engine.json')); x=r['results'][0]; \
print(json.dumps({'who':'gpo-engine','shape':'$SHAPE','threads':$t,'steps_per_s':x['steps_per_s'],'git_sha':r['git_sha'],'peak_rss_mb':x['peak_host_rss_mb']}))" >> "$log"
    OMP_NUM_THREADS=$t "$REF_PY" tools/bench/reference/ref_gpo_vae_step.py --ref-src "$REF_SRC" --threads "$t" \
        --steps "$ref_steps" $flags 2>/dev/null | python3 -c "import json,sys; x=json.loads(sys.stdin.read()); \
print(json.dumps({'who':'reference','shape':'$SHAPE','threads':$t,'steps_per_s':x['steps_per_s'],'torch':x['torch'],'peak_rss_mb':x['peak_rss_mb']}))" >> "$log"
  done
done
python3 - "$log" <<'PY'
import json, sys, platform
rows = [json.loads(l) for l in open(sys.argv[1])]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.machine())
print(f"machine: {cpu}")
print("| shape | threads | gpo-engine steps/s | reference steps/s | ratio |")
print("|---|---|---|---|---|")
for t in sorted({r["threads"] for r in rows}):
    e = [r["steps_per_s"] for r in rows if r["threads"] == t and r["who"] == "gpo-engine"]
    f = [r["steps_per_s"] for r in rows if r["threads"] == t and r["who"] == "reference"]
    me, mf = sum(e) / len(e), sum(f) / len(f)
    print(f"| {rows[0]['shape']} | {t} | {me:.3g} | {mf:.3g} | {me / mf:.2f}x |")
PY
