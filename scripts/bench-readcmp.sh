#!/usr/bin/env bash
# What live read comparison costs (issue 5): proxy CPU seconds per 100k prepared single-row reads
# (`zdm bench --mix reads`) with READ_MODE=PRIMARY_ONLY, DUAL_ASYNC_ON_SECONDARY at
# READ_COMPARISON_RATE=0, and DUAL_ASYNC_ON_SECONDARY at rate 1. Configurations alternate within
# each round; medians are printed as a markdown table for docs/benchmarks.md.
#
# Usage: scripts/bench-readcmp.sh BUILD_DIR
# Settings (environment): BENCH_READS (200000) reads per measured run; BENCH_ROUNDS (3);
#   BENCH_CONCURRENCY (32); BENCH_KEYS (10000); MIDDLE_THREADS (1): ZDM_PROXY_THREADS
set -euo pipefail
build=${1:-build}
zdm="$build/apps/zdm/zdm"
[[ -x "$zdm" ]] || { echo "bench-readcmp: $zdm not found; build first" >&2; exit 2; }
reads=${BENCH_READS:-200000}
rounds=${BENCH_ROUNDS:-3}
conc=${BENCH_CONCURRENCY:-32}
keys=${BENCH_KEYS:-10000}
threads=${MIDDLE_THREADS:-1}
hz=$(getconf CLK_TCK)

# start, stop, port_of, metrics_of, proxy_env, cpu_ticks, bench; $tmp and the exit trap.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
lib_init bench-readcmp

# comparisons METRICS_ADDR REGEX: sum of zdm_proxy_read_comparisons_total series matching REGEX.
comparisons() {
  curl -fsS "http://$1/metrics" |
    awk -v re="$2" '/^zdm_proxy_read_comparisons_total\{/ && $0 ~ re { s += $NF } END { print s + 0 }'
}

start origin "$zdm" node --listen 127.0.0.1:0 --admin 127.0.0.1:0 --threads 1 --log-level warn
origin_port=$(port_of "$ready_line")
start target "$zdm" node --listen 127.0.0.1:0 --admin 127.0.0.1:0 --threads 1 --log-level warn \
  --cluster-name target
target_port=$(port_of "$ready_line")
for p in "$origin_port" "$target_port"; do bench "$tmp/load-$p.json" "$p" --mix writes --count "$keys"; done

configs=(primary_only async_rate0 async_rate1)
for round in $(seq "$rounds"); do
  for cfg in "${configs[@]}"; do
    mode=DUAL_ASYNC_ON_SECONDARY rate=0
    [[ $cfg == primary_only ]] && mode=PRIMARY_ONLY
    [[ $cfg == async_rate1 ]] && rate=1
    proxy_env "$origin_port" "$target_port"
    start proxy env "${proxy_env[@]}" ZDM_PROXY_THREADS="$threads" \
      ZDM_READ_MODE="$mode" ZDM_READ_COMPARISON_RATE="$rate" ZDM_LOG_LEVEL=WARN \
      "$zdm" proxy --startup-timeout 20
    proxy_pid=$started_pid
    port=$(port_of "$ready_line") metrics=$(metrics_of "$ready_line")
    bench "$tmp/warm.json" "$port" --mix reads --duration 1s
    compared0=$(comparisons "$metrics" '.')
    before=$(cpu_ticks "$proxy_pid")
    out="$tmp/$cfg-r$round.json"
    bench "$out.raw" "$port" --mix reads --count "$reads"
    after=$(cpu_ticks "$proxy_pid")
    # Comparisons finish when the later answer arrives: give the last ones a moment.
    sleep 0.5
    compared=$(( $(comparisons "$metrics" '.') - compared0 ))
    mismatched=$(comparisons "$metrics" 'result="mismatch"')
    jq --argjson ticks $((after - before)) --argjson hz "$hz" --argjson compared "$compared" \
      --argjson mismatched "$mismatched" \
      '. + {compared: $compared, mismatched: $mismatched,
            cpu_per_100k: ($ticks / $hz / (.ops + .errors) * 100000)}' \
      "$out.raw" >"$out"
    echo "bench-readcmp: round $round: $cfg $(jq -r '.throughput_ops_s | floor' "$out") ops/s," \
      "$(jq -r '.cpu_per_100k * 100 | round / 100' "$out") CPU s/100k, $compared compared" >&2
    stop "$proxy_pid"
  done
done

echo
echo "\`zdm bench --mix reads\` (prepared single-row reads, kv table, 100-byte values, $keys keys),"
echo "$reads reads per run at concurrency $conc over 2 connections, proxy with $threads thread(s);"
echo "medians of $rounds rounds. CPU = utime + stime of the proxy process (/proc/PID/stat)."
echo
echo "| proxy read mode | ops/s | p50 µs | p99 µs | errors | sampled reads counted, all outcomes (all runs) | mismatches | proxy CPU s per 100k reads |"
echo "|---|---|---|---|---|---|---|---|"
for cfg in "${configs[@]}"; do
  name=$cfg
  [[ $cfg == primary_only ]] && name="PRIMARY_ONLY"
  [[ $cfg == async_rate0 ]] && name="DUAL_ASYNC_ON_SECONDARY, READ_COMPARISON_RATE=0"
  [[ $cfg == async_rate1 ]] && name="DUAL_ASYNC_ON_SECONDARY, READ_COMPARISON_RATE=1"
  jq -s -r --arg n "$name" 'def median: sort | .[(length - 1) / 2 | floor];
    "| \($n) | \(map(.throughput_ops_s) | median | floor) | \(map(.latency_us.p50) | median | round) | \(map(.latency_us.p99) | median | round) | \(map(.errors) | add) | \(map(.compared) | add) | \(map(.mismatched) | add) | \(map(.cpu_per_100k) | median * 100 | round / 100) |"' \
    "$tmp/$cfg"-r*.json
done
