#!/usr/bin/env bash
# Async secondary writes (issue 13; docs/async-writes.md): what ZDM_SECONDARY_WRITE_MODE=async
# buys when the secondary is slow, and what it costs. Two `zdm node`s; target delays every
# INSERT by $TARGET_DELAY_MS (the node's fault injection), as a cluster a region away would.
#   1. write latency through the proxy at a fixed rate, sync vs async (p50/p99)
#   2. write throughput (unlimited rate) and proxy CPU per write, sync vs async
#   3. replay: target refuses INSERTs (UNAVAILABLE) while $REPLAY_ROWS rows are written, so every
#      copy is journaled; then the refusal is lifted and the journal's drain is timed
# Prints markdown tables for docs/benchmarks.md.
#
# Usage: scripts/bench-async-writes.sh BUILD_DIR
# Settings (environment): BENCH_SECONDS (5) per run, BENCH_ROUNDS (3, medians), BENCH_RATE (1000
# writes/s) with BENCH_RATE_CONCURRENCY (32), BENCH_CONCURRENCY (64) for the throughput runs,
# TARGET_DELAY_MS (20), REPLAY_ROWS (50000), BENCH_KEYS (100000).
set -euo pipefail
build=${1:-build}
zdm="$build/apps/zdm/zdm"
[[ -x "$zdm" ]] || { echo "bench-async-writes: $zdm not found; build first" >&2; exit 2; }
seconds=${BENCH_SECONDS:-5}
rounds=${BENCH_ROUNDS:-3}
rate=${BENCH_RATE:-1000}
rate_conc=${BENCH_RATE_CONCURRENCY:-32}
conc=${BENCH_CONCURRENCY:-64}
delay=${TARGET_DELAY_MS:-20}
replay_rows=${REPLAY_ROWS:-50000}
keys=${BENCH_KEYS:-100000}
hz=$(getconf CLK_TCK)

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
lib_init bench-async-writes

start origin "$zdm" node --listen 127.0.0.1:0 --admin 127.0.0.1:0 --threads 1 --cluster-name origin
origin_port=$(port_of "$ready_line")
start target "$zdm" node --listen 127.0.0.1:0 --admin 127.0.0.1:0 --threads 1 --cluster-name target
target_port=$(port_of "$ready_line")
target_admin=$(admin_of "$ready_line")
# The bench schema on both clusters, before any fault.
for p in "$origin_port" "$target_port"; do bench "$tmp/schema.json" "$p" --mix writes --count 10; done

metric() { curl -fsS "http://$1/metrics" | awk -v m="$2" '$1 == m { print $2 }'; }
fault() { curl -fsS -X POST -H 'Content-Type: application/json' -d "$1" "http://$target_admin/faults" >/dev/null; }
clear_faults() { curl -fsS -X DELETE "http://$target_admin/faults" >/dev/null; }

# start_proxy MODE [ZDM_...=...]: sets $proxy_port, $proxy_metrics, $proxy_pid. Each proxy gets
# its own output file: `start` could read a previous proxy's ready line from a reused one.
proxies=0
start_proxy() {
  local mode=$1
  shift
  rm -rf "$tmp/journal"
  proxy_env "$origin_port" "$target_port"
  proxies=$((proxies + 1))
  start "proxy-$proxies-$mode" env "${proxy_env[@]}" ZDM_PROXY_THREADS=1 ZDM_SECONDARY_WRITE_MODE="$mode" \
    ZDM_JOURNAL_DIR="$tmp/journal" "$@" "$zdm" proxy --startup-timeout 20
  proxy_pid=$started_pid
  proxy_port=$(port_of "$ready_line")
  proxy_metrics=$(metrics_of "$ready_line")
}

# wait_caught_up: the secondary has every copy (nothing in flight or journaled).
wait_caught_up() {
  for _ in $(seq 600); do
    if [[ "$(metric "$proxy_metrics" zdm_journal_pending_records)" == 0 &&
          "$(metric "$proxy_metrics" zdm_secondary_writes_in_flight)" == 0 ]]; then return 0; fi
    sleep 0.1
  done
  echo "bench-async-writes: the secondary did not catch up" >&2
  exit 1
}

# measure NAME ARGS...: one bench run through the proxy with the proxy's CPU per write.
measure() {
  local name=$1 before after
  shift
  bench "$tmp/warm.json" "$proxy_port" --mix writes --duration 1s "$@"
  [[ "$mode" == async ]] && wait_caught_up
  before=$(cpu_ticks "$proxy_pid")
  bench "$tmp/$name.raw" "$proxy_port" --mix writes --duration "${seconds}s" "$@"
  [[ "$mode" == async ]] && wait_caught_up  # the copies' CPU is part of the cost
  after=$(cpu_ticks "$proxy_pid")
  jq --argjson ticks $((after - before)) --argjson hz "$hz" \
    '. + {cpu_us_per_write: ($ticks / $hz / (.ops + .errors) * 1000000)}' \
    "$tmp/$name.raw" >"$tmp/$name.json"
}

fault "{\"opcode\": \"EXECUTE\", \"action\": \"delay\", \"delay_ms\": $delay, \"query\": \"INSERT\"}"
for round in $(seq "$rounds"); do
  for mode in sync async; do
    start_proxy "$mode"
    run_conc=$rate_conc measure "$mode-rate-r$round" --rate "$rate"
    measure "$mode-max-r$round"
    stop "$proxy_pid"
    echo "bench-async-writes: round $round $mode: p99 $(jq '.latency_us.p99' "$tmp/$mode-rate-r$round.json") µs at $rate/s, $(jq '.throughput_ops_s | floor' "$tmp/$mode-max-r$round.json") writes/s" >&2
  done
done
clear_faults

# Replay: every copy journaled (target refuses), then drained.
fault '{"opcode": "EXECUTE", "action": "error", "error": "UNAVAILABLE", "query": "INSERT"}'
start_proxy async ZDM_JOURNAL_REPLAY_RATE=1000000
mode=async
bench "$tmp/fill.json" "$proxy_port" --mix writes --count "$replay_rows"
for _ in $(seq 600); do
  [[ "$(metric "$proxy_metrics" zdm_journal_pending_records)" -ge "$replay_rows" ]] && break
  sleep 0.1
done
journal_bytes=$(metric "$proxy_metrics" zdm_journal_pending_bytes)
clear_faults
t0=$(date +%s.%N)
wait_caught_up
t1=$(date +%s.%N)
replayed=$(metric "$proxy_metrics" zdm_journal_replayed_total)
stop "$proxy_pid"

medians() {
  jq -s 'def median: sort | if length == 0 then null else .[(length - 1) / 2 | floor] end;
    { ops: (map(.throughput_ops_s) | median | floor), p50: (map(.latency_us.p50) | median | round),
      p99: (map(.latency_us.p99) | median | round), errors: (map(.errors) | add),
      cpu: (map(.cpu_us_per_write) | median | . * 10 | round / 10) }' "$tmp/$1"-r*.json
}
echo
echo "Target delays every INSERT by $delay ms (fault injection); origin answers at once. \`zdm bench\`"
echo "kv writes, prepared, protocol v5; proxy with 1 io thread; ${seconds} s runs after a 1 s warm-up,"
echo "medians of $rounds rounds. CPU: the proxy's user+system time per write, the background"
echo "copies included (measured until the secondary had every copy)."
echo
echo "| mode | fixed rate | p50 µs | p99 µs | errors | unlimited: writes/s (concurrency $conc) | proxy CPU µs per write |"
echo "|---|---|---|---|---|---|---|"
for mode in sync async; do
  r=$(medians "$mode-rate") m=$(medians "$mode-max")
  echo "| $mode | $rate/s (concurrency $rate_conc) | $(jq .p50 <<<"$r") | $(jq .p99 <<<"$r") | $(( $(jq .errors <<<"$r") + $(jq .errors <<<"$m") )) | $(jq .ops <<<"$m") | $(jq .cpu <<<"$m") |"
done
echo
echo "Replay: $replay_rows writes journaled ($journal_bytes bytes) while target refused them, then"
echo "replayed: $replayed records in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s ="\
  "$(awk -v a="$t0" -v b="$t1" -v n="$replayed" 'BEGIN { printf "%d", n / (b - a) }') records/s (ZDM_JOURNAL_REPLAY_RATE unlimited, 256 in flight)."
