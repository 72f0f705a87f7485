# Sourced by the end-to-end bench scripts (evaluate_scale.sh, gwps_scale.sh): `stage NAME COMMAND...` runs the
# command under /usr/bin/time with its output in $work/NAME.log, stops the script with the log's tail when it
# fails, and appends {stage, seconds, peak_rss_mb} to $stages. The caller sets $work and $stages.
stage() {
  local name=$1
  shift
  echo "== $name: $*"
  /usr/bin/time -f "%e %M" -o "$work/$name.time" "$@" > "$work/$name.log" 2>&1 \
    || { tail -20 "$work/$name.log" >&2; exit 1; }
  read -r secs kb < "$work/$name.time"
  python3 -c "import json; print(json.dumps({'stage': '$name', 'seconds': $secs, 'peak_rss_mb': $kb / 1024}))" >> "$stages"
  tail -1 "$stages"
}
