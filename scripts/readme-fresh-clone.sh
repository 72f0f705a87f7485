#!/usr/bin/env bash
# Clones the committed repository (HEAD) into a temporary folder and runs README command 1 there verbatim, with
# GPO_MAX_STEPS capping the training (the README does not need it): proves a fresh checkout builds with the default
# CUDA architectures and trains, using nothing that is not committed. For developers' working trees: CI's own clean
# clone runs command 1 first, which is the same check. Usage: scripts/readme-fresh-clone.sh
set -euo pipefail
src="$(cd "$(dirname "$0")/.." && pwd)"
tmp=$(mktemp -d /tmp/gpo-fresh-clone.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
git clone -q "$src" "$tmp/gpo-engine"
cd "$tmp/gpo-engine"
cmd=$(scripts/readme-command.sh 1)
echo "fresh clone at $(git rev-parse --short HEAD) in $tmp; running: $cmd"
GPO_MAX_STEPS=${GPO_MAX_STEPS:-30} bash -c "$cmd"
test -f runs/demo/checkpoints/last.ckpt || { echo "fresh clone: no checkpoint written" >&2; exit 1; }
grep -q '"type":"step"' runs/demo/metrics.jsonl || { echo "fresh clone: no training step logged" >&2; exit 1; }
echo "fresh clone: README command 1 built and trained"
