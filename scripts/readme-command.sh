#!/usr/bin/env bash
# Prints README command N (1 or 2) exactly as README.md shows it: the line after "# N." in the first sh block.
# CI runs what this prints, so the README and CI cannot drift apart. Usage: scripts/readme-command.sh 1
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:?usage: scripts/readme-command.sh 1|2}
cmd=$(awk -v n="$n" '
    /^```sh/ { inblock = 1; next }
    /^```/ { if (inblock) exit; next }
    inblock && $0 ~ "^# " n "\\." { getline; print; exit }
' README.md)
[ -n "$cmd" ] || { echo "readme-command: no command $n in README.md's first sh block" >&2; exit 1; }
printf '%s\n' "$cmd"
