#!/usr/bin/env bash
# The zero-downtime migration, live, on one machine (`make demo`): two embedded clusters (origin
# and target `zdm node`s), the `zdm proxy` between them and a `zdm bench` workload through it.
# Rows written to origin before the proxy exists are copied in phase 2 by `zdm migrate` and
# checked by `zdm validate`. Phases 1, 3 and 4 are shown by restarting the proxy with each
# configuration; at the end every row of every phase is read back from BOTH clusters directly.
# Usage: scripts/demo.sh BUILD_DIR      (exit status 1 if a row is missing on either cluster)
set -euo pipefail
build=${1:-build}
zdm="$build/apps/zdm/zdm"
[[ -x "$zdm" ]] || { echo "demo: $zdm not found; run 'make demo' (it builds first)" >&2; exit 2; }
rows=${DEMO_ROWS:-20000}          # rows written deterministically per phase
seconds=${DEMO_SECONDS:-3}        # live load per phase

# start, stop, port_of, admin_of, metrics_of, proxy_env, executes; $tmp and the exit trap.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
keep_tmp=${DEMO_KEEP:-}  # DEMO_KEEP=1 keeps the logs; a failed check keeps them too
lib_init demo

bold() { printf '\033[1m%s\033[0m\n' "$*"; }
step() { printf '\n'; bold "$*"; }
say() { printf '   %s\n' "$*"; }

stop_proxy() {
  [[ -n "${proxy_pid:-}" ]] || return 0
  stop "$proxy_pid"
  proxy_pid=
}

# start_proxy PRIMARY_CLUSTER READ_MODE: the proxy with the reference's ZDM_* settings.
start_proxy() {
  stop_proxy
  # READ_COMPARISON_RATE only matters with DUAL_ASYNC_ON_SECONDARY (phase 3): compare every read.
  proxy_env "$origin_port" "$target_port"
  start "proxy-$1-$2" env "${proxy_env[@]}" \
    ZDM_PRIMARY_CLUSTER="$1" ZDM_READ_MODE="$2" ZDM_READ_COMPARISON_RATE=1 \
    "$zdm" proxy --startup-timeout 20
  proxy_pid=$started_pid
  proxy_port=$(port_of "$ready_line")
  proxy_metrics=$(metrics_of "$ready_line")
  say "proxy on 127.0.0.1:$proxy_port  (ZDM_PRIMARY_CLUSTER=$1, ZDM_READ_MODE=$2)"
}

reset_counters() { curl -fsS -X POST "http://$1/counters/reset" >/dev/null; }

# load NAME KEYSPACE: a few seconds of 50% reads / 50% writes through the proxy, then one line
# with the results and how many of the reads each cluster served.
load() {
  local name=$1 ks=$2 json="$tmp/load-$1.json"
  reset_counters "$origin_admin"
  reset_counters "$target_admin"
  if ! "$zdm" bench --contact-points "127.0.0.1:$proxy_port" --keyspace "$ks" \
      --mix mixed:0.5 --partitions "$rows" --concurrency 32 --duration "${seconds}s" \
      --warmup 0 --no-progress --json "$json" >"$tmp/load-$name.txt" 2>&1; then
    echo "demo: the workload failed:" >&2
    cat "$tmp/load-$name.txt" >&2
    exit 1
  fi
  # Async reads are fire and forget: give the last ones a moment to land on the secondary.
  sleep 0.3
  local writes reads
  writes=$(jq '.writes.count' "$json")
  reads=$(jq '.reads.count' "$json")
  # Writes go to both clusters, so EXECUTEs beyond the writes are reads.
  local on_origin=$(( $(executes "$origin_admin") - writes ))
  local on_target=$(( $(executes "$target_admin") - writes ))
  jq -r --arg name "$name" --arg o "$on_origin" --arg t "$on_target" '
    def ms: (. / 10 | round) / 100;
    "   \($name): \(.throughput_ops_s | floor) ops/s, p50 \(.latency_us.p50 | ms) ms, " +
    "p99 \(.latency_us.p99 | ms) ms, max \(.latency_us.max | ms) ms, errors \(.errors)\n" +
    "      \(.writes.count) writes (to both clusters), \(.reads.count) reads: " +
    "origin served \($o), target served \($t)"' "$json"
  last_reads=$reads last_on_origin=$on_origin last_on_target=$on_target
}

# write_rows KEYSPACE: keys 0..rows-1 exactly once each through the proxy; fails on any error.
write_rows() {
  if ! "$zdm" bench --contact-points "127.0.0.1:$proxy_port" --keyspace "$1" --mix writes \
      --count "$rows" --concurrency 64 --no-progress --json "$tmp/write-$1.json" \
      >"$tmp/write-$1.txt" 2>&1; then
    echo "demo: writing rows through the proxy failed:" >&2
    cat "$tmp/write-$1.txt" >&2
    exit 1
  fi
  jq -r '"   wrote \(.ops) rows into '"$1"'.kv through the proxy (\(.throughput_ops_s | floor) rows/s, errors \(.errors))"' \
    "$tmp/write-$1.json"
}

bold "zdm demo: migrate a live application from ORIGIN to TARGET without downtime"
say "(logs of every process: $tmp, $([[ -n "${DEMO_KEEP:-}" ]] && echo kept || echo removed) at exit)"

step "1. Start two clusters: ORIGIN (the one in use today) and TARGET (where we are going)"
start origin "$zdm" node --listen 127.0.0.1:0 --admin 127.0.0.1:0 --cluster-name origin
origin_port=$(port_of "$ready_line") origin_admin=$(admin_of "$ready_line")
say "origin: $ready_line"
start target "$zdm" node --listen 127.0.0.1:0 --admin 127.0.0.1:0 --cluster-name target
target_port=$(port_of "$ready_line") target_admin=$(admin_of "$ready_line")
say "target: $ready_line"

say "before the migration: $rows rows written to ORIGIN only (the data the application already has)"
if ! "$zdm" bench --contact-points "127.0.0.1:$origin_port" --keyspace demo_existing --mix writes \
    --count "$rows" --concurrency 64 --no-progress --json "$tmp/write-existing.json" \
    >"$tmp/write-existing.txt" 2>&1; then
  echo "demo: writing the existing rows failed:" >&2
  cat "$tmp/write-existing.txt" >&2
  exit 1
fi

step "2. Phase 1: the application talks to the proxy; writes go to BOTH, reads to ORIGIN"
start_proxy ORIGIN PRIMARY_ONLY
write_rows demo_phase1
load "phase 1" demo_phase1
p1_target_reads=$last_on_target

step "2b. Phase 2: copy the rows that exist only on ORIGIN (zdm migrate), then prove it (zdm validate)"
clusters=(--origin "127.0.0.1:$origin_port" --target "127.0.0.1:$target_port" --progress never)
if ! "$zdm" migrate "${clusters[@]}" --keyspaces demo_existing --create-schema \
    --report "$tmp/migrate.json" >"$tmp/migrate.txt" 2>"$tmp/migrate.log"; then
  echo "demo: zdm migrate failed:" >&2
  cat "$tmp/migrate.txt" "$tmp/migrate.log" >&2
  exit 1
fi
jq -r '"   migrate: \(.totals.rows_read) rows read, \(.totals.rows_written) written with their writetimes " +
  "and TTLs, \(.totals.ranges_done) token ranges, \(.elapsed_s * 10 | round / 10) s -> \(.status)"' "$tmp/migrate.json"
validate_ok=1
"$zdm" validate "${clusters[@]}" --keyspaces demo_existing,demo_phase1 --report "$tmp/validate.json" \
  >"$tmp/validate.txt" 2>"$tmp/validate.log" || validate_ok=0
if [[ ! -s "$tmp/validate.json" ]]; then
  echo "demo: zdm validate failed:" >&2
  cat "$tmp/validate.txt" "$tmp/validate.log" >&2
  exit 1
fi
jq -r '"   validate (both ways, both keyspaces): \(.totals.rows_read) rows compared, " +
  "\(.totals.missing) missing, \(.totals.mismatched) different, \(.totals.extra) only on target -> \(.status)"' \
  "$tmp/validate.json"

step "3. Phase 3: reads are ALSO sent to TARGET in the background (warms it, never slows clients)"
start_proxy ORIGIN DUAL_ASYNC_ON_SECONDARY
write_rows demo_phase3
load "phase 3" demo_phase3
p3_reads=$last_reads p3_target_reads=$last_on_target
# Live read comparison: target's answer to each async read against origin's (per table metrics).
curl -fsS "http://$proxy_metrics/metrics" | awk '
  /^zdm_proxy_read_comparisons_total\{/ { match($0, /result="[a-z]+"/); r = substr($0, RSTART + 8, RLENGTH - 9); n[r] += $NF }
  END { printf "   read comparison (target vs origin): %d match, %d mismatch, %d error, %d skipped, %d timeout\n",
        n["match"], n["mismatch"], n["error"], n["skipped"], n["timeout"] }'
say "(a mismatch here is a read racing the workload's own write of the same key, or real drift)"

step "4. Phase 4: TARGET becomes the primary: reads come from TARGET; writes still go to both"
start_proxy TARGET PRIMARY_ONLY
write_rows demo_phase4
load "phase 4" demo_phase4
p4_origin_reads=$last_on_origin
stop_proxy

step "5. Check: is every row, copied or written through the proxy, on BOTH clusters? (read directly)"
failed=0
for ks in demo_existing demo_phase1 demo_phase3 demo_phase4; do
  for cluster in origin target; do
    port_var=${cluster}_port
    if "$zdm" bench --contact-points "127.0.0.1:${!port_var}" --keyspace "$ks" --verify \
        --count "$rows" --concurrency 64 --no-progress --json "$tmp/verify-$ks-$cluster.json" \
        >"$tmp/verify-$ks-$cluster.txt" 2>&1; then
      result=ok
    else
      result=MISSING
      failed=1
    fi
    if [[ -s "$tmp/verify-$ks-$cluster.json" ]]; then
      jq -r --arg ks "$ks" --arg c "$cluster" --arg r "$result" \
        '"   \($ks) on \($c): \(.verify.checked) rows checked, \(.verify.missing) missing, \(.verify.mismatched) wrong -> \($r)"' \
        "$tmp/verify-$ks-$cluster.json"
    else
      say "$ks on $cluster: the check could not run -> $result"
      sed 's/^/      /' "$tmp/verify-$ks-$cluster.txt"
    fi
  done
done

# The phase lines must also show the routing each phase promises.
routing_ok=1
if (( p1_target_reads != 0 )); then
  say "phase 1: target served $p1_target_reads reads, expected 0"; routing_ok=0
fi
if (( p3_target_reads < p3_reads * 9 / 10 )); then
  say "phase 3: target served $p3_target_reads of $p3_reads async reads, expected about all"; routing_ok=0
fi
if (( p4_origin_reads != 0 )); then
  say "phase 4: origin served $p4_origin_reads reads, expected 0"; routing_ok=0
fi
if (( validate_ok == 0 )); then
  say "phase 2: zdm validate found differences"; routing_ok=0
fi

echo
if (( failed == 0 && routing_ok == 1 )); then
  bold "VERDICT: OK. Every row ($rows copied by zdm migrate, $((3 * rows)) written through the proxy in"
  bold "         3 phases) is on both clusters, validate found no difference, and reads followed each"
  bold "         phase's routing. The application never stopped."
  exit 0
fi
bold "VERDICT: FAILED: see the lines above (logs kept in $tmp)."
keep_tmp=1
exit 1
