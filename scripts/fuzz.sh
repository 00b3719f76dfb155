#!/usr/bin/env bash
# Runs every libFuzzer target built in BUILD_DIR for SECONDS each, starting from the checked-in
# seed corpus (tests/fuzz/corpus/<name>/) and keeping new inputs in fuzz-out/<name>/ (not
# committed). Crashes are written to fuzz-out/<name>/crash-*; the script exits non-zero on a finding.
# Usage: scripts/fuzz.sh BUILD_DIR SECONDS [TARGET...]
set -euo pipefail
build=${1:?build dir}
seconds=${2:-60}
shift 2 || true
root=$(cd "$(dirname "$0")/.." && pwd)
targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
  for bin in "$build"/tests/fuzz/fuzz_*; do targets+=("$(basename "$bin" | sed 's/^fuzz_//')"); done
fi
status=0
for t in "${targets[@]}"; do
  out="$root/fuzz-out/$t"
  mkdir -p "$out/corpus"
  echo "== fuzz_$t for ${seconds}s"
  if ! "$build/tests/fuzz/fuzz_$t" -max_total_time="$seconds" -print_final_stats=1 \
      -artifact_prefix="$out/" "$out/corpus" "$root/tests/fuzz/corpus/$t" \
      > "$out/log.txt" 2>&1; then
    echo "fuzz_$t: FINDING (see $out/log.txt)"
    status=1
  fi
  grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$out/log.txt" | sed "s/^/  /"
done
exit $status
