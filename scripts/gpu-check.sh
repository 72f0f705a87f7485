#!/usr/bin/env bash
# On a lent GPU machine (see docs/gpu-runs.md): runs the CUDA parity tests with GPO_REQUIRE_GPU=1, the whole test
# suite, the op and training-step benchmarks, 20 CUDA training steps and 3 CUDA epochs of the demo, from binaries packed by scripts/devrun-pack.sh.
# Everything it prints also lands in $OUT/gpu-results.tgz.
set -uo pipefail
res=$(mktemp -d)
[ -f .devpack.tgz ] && tar xzf .devpack.tgz
export LD_LIBRARY_PATH=$PWD/.devrun/lib:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
# The binaries were built in /work/main (test data paths are compiled in): make that path point here.
if [ "$(realpath /work/main 2>/dev/null)" != "$(realpath .)" ]; then mkdir -p /work && ln -sfn "$PWD" /work/main; fi
rm -rf build && cp -a .devrun/build build
nvidia-smi > "$res/nvidia-smi.txt" 2>&1
build/gpo-engine info 2>&1 | tee "$res/info.txt"
GPO_REQUIRE_GPU=1 ctest --test-dir build -L cuda --output-on-failure -j8 > "$res/ctest_cuda.txt" 2>&1
echo "ctest -L cuda (GPO_REQUIRE_GPU=1): rc=$?"; tail -5 "$res/ctest_cuda.txt"
GPO_REQUIRE_GPU=1 ctest --test-dir build --output-on-failure -j8 > "$res/ctest_all.txt" 2>&1
echo "ctest all: rc=$?"; tail -5 "$res/ctest_all.txt"
grep -E "Failure|FAILED|differ" "$res/ctest_cuda.txt" | head -40
make -f Makefile.bench ops OUT="$res/bench" > "$res/bench.txt" 2>&1; echo "bench rc=$?"
build/gpo-engine train --config data/configs/demo.json --out "$res/gpu20" --device cuda --max-steps 20 \
    --set train.log_every_steps=1 > "$res/train20.txt" 2>&1; echo "train20 rc=$?"
python3 -c "
import json,sys
print('cuda losses', [round(json.loads(l)['loss'],4) for l in open('$res/gpu20/metrics.jsonl') if json.loads(l)['type']=='step'])" 2>&1
rm -rf "$res/gpu20/checkpoints"
make -f Makefile.bench train OUT="$res/bench" > "$res/bench_train.txt" 2>&1; echo "bench train rc=$?"
grep -E "steps_per_s|cells_per_s|peak|device\"" "$res/bench/train.json"
start=$(date +%s.%N)
build/gpo-engine train --config data/configs/demo.json --out "$res/demo3" --device cuda --set train.max_epochs=3 \
    > "$res/demo3.txt" 2>&1; echo "demo 3 epochs on cuda rc=$? seconds=$(echo "$(date +%s.%N) - $start" | bc)"
grep -E "^epoch [0-9]+:" "$res/demo3.txt"
rm -rf "$res/demo3/checkpoints"
tar czf "${OUT:-.}/gpu-results.tgz" -C "$res" .
