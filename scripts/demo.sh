#!/usr/bin/env bash
# The zero-downtime migration, live, on one machine (`make demo`, `make demo-rollback`): two
# embedded clusters (origin and target `zdm node`s), a fleet of two `zdm proxy`s between them, and
# `zdm bench` workloads playing two instances of the application, one per proxy. The proxies start
# once and are never restarted: each phase is a live change made with `zdm ctl` (their operations
# API) in the middle of a workload; `zdm status` shows the fleet, `zdm cutover` says when the
# proxies can go.
#   0. rows written to origin only; `zdm preflight` fails (target has no table), the schema is
#      created on target, preflight passes
#   1. two proxies, origin primary: writes go to both clusters, reads to origin
#   2. `zdm migrate` copies the rows written before the proxies, `zdm validate` compares
#   3. `zdm ctl phase 3`, `zdm ctl set read_comparison_rate=1` under load: reads copied to target
#      and compared
#   4. `zdm ctl phase 4` under load: reads served by target
#   5. `zdm cutover`: NOT READY while clients are connected, READY once they left; the
#      application then runs on target directly while the proxies are drained (SIGTERM, exit 0)
# and at the end every row of every phase is read back from the clusters directly, every
# workload must have seen zero errors and reads must have followed each phase's routing.
# With `rollback`: phases 0 to 4, then `zdm ctl rollback` under load instead of phase 5.
# Usage: scripts/demo.sh BUILD_DIR [rollback]      (exit status 1 if anything is wrong)
# shellcheck disable=SC2034  # variables read in the arithmetic that `check` evaluates
set -euo pipefail
build=${1:-build}
mode=${2:-cutover}
[[ "$mode" == cutover || "$mode" == rollback ]] || {
  echo "usage: $0 BUILD_DIR [rollback]" >&2
  exit 2
}
zdm="$build/apps/zdm/zdm"
[[ -x "$zdm" ]] || { echo "demo: $zdm not found; run 'make demo' (it builds first)" >&2; exit 2; }
rows=${DEMO_ROWS:-20000}     # rows written before the proxies, and through them in each phase
seconds=${DEMO_SECONDS:-4}   # live load per phase
half=$((rows / 2))           # each of the two application instances writes half of a phase's rows
((half >= 1)) || { echo "demo: DEMO_ROWS must be at least 2" >&2; exit 2; }
write_rate=$(awk -v n="$half" -v s="$seconds" 'BEGIN { r = n / s; print (r < 1 ? 1 : r) }')
read_rate=1500               # reads per second of each instance

# start, spawn, reap, drain, port_of, admin_of, metrics_of, proxy_env; $tmp and the exit trap.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
keep_tmp=${DEMO_KEEP:-}  # DEMO_KEEP=1 keeps the logs; a failed check keeps them too
lib_init demo
# The proxies accept changes only with this token; zdm ctl reads it from the environment.
ZDM_ADMIN_TOKEN="demo-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"
export ZDM_ADMIN_TOKEN
began=$SECONDS

bold() { printf '\033[1m%s\033[0m\n' "$*"; }
step() { printf '\n'; bold "$*"; }
say() { printf '   %s\n' "$*"; }
indent() { sed 's/^/     /'; }
at() { sleep "$(awk -v s="$seconds" -v f="$1" 'BEGIN { print s * f }')"; }

# The verdict's lines: every check says ok or FAILED; one FAILED fails the demo.
checks=() failed=0
check() {  # check DESCRIPTION ARITHMETIC
  if (($2)); then checks+=("ok      $1"); else checks+=("FAILED  $1"); failed=1; fi
}

# zdm ARGS...: shows `$ zdm ARGS` (files in $tmp by their name alone), runs it; its output is in
# $out, its exit status in $rc.
out="$tmp/cmd.txt"
zdm() {
  local shown="$*"
  printf '   \033[2m$\033[0m zdm %s\n' "${shown//$tmp\//}"
  rc=0
  "$zdm" "$@" >"$out" 2>&1 || rc=$?
}
# show: the last command's output, indented; show_until PATTERN: up to the line before PATTERN.
show() { indent <"$out"; }
show_until() { awk -v p="$1" '$0 ~ p { exit } { print }' "$out" | sed '${/^$/d}' | indent; }

# Node counters (their admin endpoint): reads are the EXECUTE requests (the readers prepare
# their SELECT; the writers send simple INSERTs, which are QUERY requests).
reset_counters() {
  curl -fsS -X POST "http://$origin_admin/counters/reset" >/dev/null
  curl -fsS -X POST "http://$target_admin/counters/reset" >/dev/null
}
reads_on() { curl -fsS "http://$1/counters" | jq '.requests.EXECUTE'; }
requests_on() { curl -fsS "http://$1/counters" | jq '[.requests[]] | add'; }
# reads_split: "ORIGIN_READS TARGET_READS" since the last reset.
reads_split() { echo "$(reads_on "$origin_admin") $(reads_on "$target_admin")"; }
# settled_reads: reads_split once two readings 0.2 s apart agree (after a workload, async reads
# may still be on their way to the secondary cluster), 3 s at most.
settled_reads() {
  local last now
  last=$(reads_split)
  for _ in $(seq 15); do
    sleep 0.2
    now=$(reads_split)
    [[ "$now" == "$last" ]] && break
    last=$now
  done
  echo "$last"
}

# load_start NAME LABEL CONTACT_A CONTACT_B: the two application instances, a through CONTACT_A and b
# through CONTACT_B (a proxy each, or target itself in phase 5). Each one writes new rows, keys
# 0..half-1 of demo_NAME_<instance>.kv exactly once at a steady rate over the phase, and reads
# the rows that existed before the migration (demo_existing), for $seconds.
load_start() {
  local name=$1 app contact
  load_label=$2
  shift 2
  load_pids=() load_files=()
  reset_counters
  for app in a b; do
    contact=$1
    shift
    spawn "$name-$app-writes" "$zdm" bench --contact-points "$contact" --keyspace "demo_${name}_$app" \
      --simple --mix writes --count "$half" --rate "$write_rate" --concurrency 8 --connections 1 \
      --no-progress --json "$tmp/$name-$app-writes.json"
    load_pids+=("$started_pid") load_files+=("$tmp/$name-$app-writes")
    spawn "$name-$app-reads" "$zdm" bench --contact-points "$contact" --keyspace demo_existing \
      --no-create-schema --mix reads --partitions "$rows" --rate "$read_rate" \
      --duration "${seconds}s" --warmup 0 --concurrency 8 --connections 1 --no-progress \
      --json "$tmp/$name-$app-reads.json"
    load_pids+=("$started_pid") load_files+=("$tmp/$name-$app-reads")
  done
}

# load_wait: waits for the workload, prints its numbers; any error or failed run is a failed check.
total_errors=0 total_ops=0 loads=0
load_wait() {
  local i ok=1 files=()
  for i in "${!load_pids[@]}"; do
    if ! reap "${load_pids[i]}" || [[ ! -s "${load_files[i]}.json" ]]; then
      ok=0
      echo "demo: a workload of $load_label failed:" >&2
      cat "${load_files[i]}.out" "${load_files[i]}.log" >&2
    fi
    if [[ -s "${load_files[i]}.json" ]]; then files+=("${load_files[i]}.json"); fi
  done
  local writes=0 reads=0 errors=0
  if ((${#files[@]})); then
    read -r writes reads errors < <(jq -rs '[(map(.writes.count) | add), (map(.reads.count) | add),
      (map(.errors) | add)] | @tsv' "${files[@]}")
    jq -rs 'def ms: (. / 10 | round) / 100;
      "   load: \(map(.writes.count) | add) writes + \(map(.reads.count) | add) reads in " +
      "\(map(.duration_s) | max * 10 | round / 10) s, errors \(map(.errors) | add); " +
      "p99 writes \(map(.writes.p99) | max | ms) ms, reads \(map(.reads.p99) | max | ms) ms"' \
      "${files[@]}"
  fi
  total_errors=$((total_errors + errors)) total_ops=$((total_ops + writes + reads))
  loads=$((loads + ${#load_pids[@]}))
  check "$load_label: ${#load_pids[@]} workloads ran, $errors client errors" \
    "ok == 1 && ${#files[@]} == ${#load_pids[@]} && errors == 0"
}

# The proxies' read comparisons (zdm_proxy_read_comparisons_total) and async copies not sent
# (zdm_async_requests_dropped_total), summed: "MATCH MISMATCH SKIPPED DROPPED".
comparisons() {
  local admin
  for admin in "${proxy_admins[@]}"; do curl -fsS "http://$admin/metrics"; done | awk '
    /^zdm_proxy_read_comparisons_total\{/ {
      match($0, /result="[a-z]+"/); n[substr($0, RSTART + 8, RLENGTH - 9)] += $NF }
    /^zdm_async_requests_dropped_total / { dropped += $NF }
    END { printf "%d %d %d %d\n", n["match"], n["mismatch"], n["skipped"], dropped }'
}

# switch_under_load CHANGE...: a third into the workload, the reads each cluster served so far,
# then `zdm ctl CHANGE` for each argument (split on spaces), then the node counters restart for
# the "after the change" window.
switch_under_load() {
  local before
  at 0.3
  before=$(reads_split)
  say "load running through both proxies; reads served so far: origin ${before% *}, target ${before#* }"
  local change
  for change in "$@"; do
    # shellcheck disable=SC2086  # one ctl command per argument, its words split
    zdm ctl $change --proxies "$proxies"
    show
    check "zdm ctl $change: exit status $rc" "rc == 0"
  done
  sleep 0.2 # requests routed before the change reach their node before the counters restart
  reset_counters
}

bold "zdm demo: migrate a live application from ORIGIN to TARGET without downtime ($mode)"
say "(logs of every process: $tmp, $([[ -n "${DEMO_KEEP:-}" ]] && echo kept || echo removed) at exit)"

step "0. Before the migration: two clusters, the application's data on ORIGIN, preflight"
start origin "$zdm" node --listen 127.0.0.1:0 --admin 127.0.0.1:0 --cluster-name origin
origin_port=$(port_of "$ready_line") origin_admin=$(admin_of "$ready_line")
say "origin: $ready_line"
start target "$zdm" node --listen 127.0.0.1:0 --admin 127.0.0.1:0 --cluster-name target
target_port=$(port_of "$ready_line") target_admin=$(admin_of "$ready_line")
say "target: $ready_line"
origin=127.0.0.1:$origin_port target=127.0.0.1:$target_port

zdm bench --contact-points "$origin" --keyspace demo_existing --mix writes --count "$rows" \
  --concurrency 64 --no-progress --json "$tmp/existing.json"
if ((rc != 0)); then show; echo "demo: writing the existing rows failed" >&2; exit 1; fi
jq -r '"     \(.ops) rows written to ORIGIN only, \(.errors) errors: the data the application already has"' \
  "$tmp/existing.json"

zdm preflight --origin "$origin" --target "$target" --keyspaces demo_existing
show
if ((rc == 1)); then
  say "FAIL as expected: target has no table yet (dual writes into it would fail). Create the"
  say "schema there from origin's definitions, copying no row (the rows are phase 2's job, once"
  say "the proxies write to both clusters):"
  zdm migrate --origin "$origin" --target "$target" --keyspaces demo_existing --schema-only
  show
  ((rc == 0)) || { echo "demo: creating the schema on target failed" >&2; exit 1; }
  zdm preflight --origin "$origin" --target "$target" --keyspaces demo_existing
  grep -E '^(PASS|WARN|FAIL)  schema' "$out" | indent
  say "  (the other checks as above)"
  grep -E '^preflight:' "$out" | indent
fi
check "zdm preflight before phase 1: exit status $rc (0: every check passed, 3: warnings only)" \
  "rc == 0 || rc == 3"

step "1. Phase 1: a fleet of two proxies; writes go to BOTH clusters, reads to ORIGIN"
proxy_env "$origin_port" "$target_port"
printf '   \033[2m$\033[0m %s\n' "ZDM_ORIGIN_CONTACT_POINTS=127.0.0.1 ZDM_ORIGIN_PORT=$origin_port \\"
say "    ZDM_TARGET_CONTACT_POINTS=127.0.0.1 ZDM_TARGET_PORT=$target_port ZDM_TARGET_LOCAL_DATACENTER=dc1 \\"
say "    ZDM_ADMIN_TOKEN=... zdm proxy"
say "twice, on ports the OS picks; each proxy's operations API (which zdm ctl, status and cutover"
say "use) is on its metrics port:"
proxy_pids=() proxy_ports=() proxy_admins=()
for p in a b; do
  start "proxy-$p" env "${proxy_env[@]}" ZDM_TARGET_LOCAL_DATACENTER=dc1 \
    ZDM_ADMIN_TOKEN="$ZDM_ADMIN_TOKEN" "$zdm" proxy --startup-timeout 20
  proxy_pids+=("$started_pid")
  proxy_ports+=("$(port_of "$ready_line")")
  proxy_admins+=("$(metrics_of "$ready_line")")
  say "proxy $p: $ready_line"
done
proxies=$(IFS=,; echo "${proxy_admins[*]}")
proxy_a=127.0.0.1:${proxy_ports[0]} proxy_b=127.0.0.1:${proxy_ports[1]}
say "the application: instance a connects to proxy a, instance b to proxy b; each writes $half new"
say "rows in $seconds s (zdm bench --mix writes --count $half --rate ${write_rate%.*}) and reads"
say "existing ones ($read_rate/s, zdm bench --mix reads)"
load_start phase1 "phase 1 load" "$proxy_a" "$proxy_b"
at 0.3
zdm status --proxies "$proxies"
show
check "zdm status in phase 1: exit status $rc (fleet ready and agreeing)" "rc == 0"
load_wait
read -r o t <<<"$(settled_reads)"
say "reads served (node counters): origin $o, target $t"
check "phase 1: target served no read ($t)" "t == 0 && o > 0"

step "2. Phase 2: copy the rows that exist only on ORIGIN (zdm migrate), then compare (zdm validate)"
zdm migrate --origin "$origin" --target "$target" --keyspaces demo_existing --progress never \
  --report "$tmp/migrate.json"
if [[ -s "$tmp/migrate.json" ]]; then
  jq -r '"     \(.totals.rows_read) rows read, \(.totals.rows_written) written with their writetimes " +
    "and TTLs, \(.totals.ranges_done) token ranges, \(.elapsed_s * 10 | round / 10) s -> \(.status)"' \
    "$tmp/migrate.json"
else
  show
fi
check "zdm migrate: exit status $rc" "rc == 0"
zdm validate --origin "$origin" --target "$target" --keyspaces demo_existing,demo_phase1_a,demo_phase1_b \
  --progress never --report "$tmp/validate.json"
if [[ -s "$tmp/validate.json" ]]; then
  jq -r '"     both ways, 3 keyspaces: \(.totals.rows_read) rows compared, \(.totals.missing) missing, " +
    "\(.totals.mismatched) different, \(.totals.extra) only on target -> \(.status)"' "$tmp/validate.json"
else
  show
fi
check "zdm validate: exit status $rc (no difference)" "rc == 0"

step "3. Phase 3, live: reads ALSO go to TARGET in the background, and both answers are compared"
load_start phase3 "phase 3 load" "$proxy_a" "$proxy_b"
switch_under_load "phase 3" "set read_comparison_rate=1"
zdm status --proxies "$proxies"
show
check "zdm status in phase 3: exit status $rc" "rc == 0"
load_wait
read -r o t <<<"$(settled_reads)"
read -r match mismatch skipped dropped <<<"$(comparisons)"
say "after the change: origin served $o reads, target $t (a copy of each, off the clients' path)"
say "copies the proxies did not send (connection to target not ready, or too many in flight): $dropped"
say "read comparisons on the proxies: $match match, $mismatch mismatch, $skipped skipped"
check "phase 3: target served a copy of about every read ($t of $o)" "o > 0 && t * 10 >= o * 9"
check "phase 3: $match reads compared, $mismatch mismatches" "match > 0 && mismatch == 0"

step "4. Phase 4, live: TARGET becomes the primary; reads come from TARGET, writes still go to both"
load_start phase4 "phase 4 load" "$proxy_a" "$proxy_b"
switch_under_load "phase 4"
zdm status --proxies "$proxies" --clients
show
check "zdm status --clients in phase 4: exit status $rc" "rc == 0"
load_wait
read -r o t <<<"$(settled_reads)"
say "after the change: origin served $o reads, target $t"
check "phase 4: origin served no read after the change ($o), target did ($t)" "o == 0 && t > 0"

# Before the proxies go: what the fleet did, from each proxy's own API and metrics.
fleet_facts() {
  local admin n
  "$zdm" status --proxies "$proxies" --interval 0 --json >"$tmp/fleet.json" || true
  changes=0
  for admin in "${proxy_admins[@]}"; do
    n=$(curl -fsS "http://$admin/metrics" | awk '/^zdm_proxy_config_changes_total / { print $2 }')
    changes=$((changes + ${n:-0}))
  done
  generations=$(jq -r '[.proxies[].generation] | map(tostring) | join(", ")' "$tmp/fleet.json")
  uptime=$(jq -r '[.proxies[].status.uptime_seconds] | min | floor' "$tmp/fleet.json")
}

# drain_proxies: SIGTERM to each proxy (graceful: stop accepting, finish what is in flight).
drain_proxies() {
  local i rc
  for i in "${!proxy_pids[@]}"; do
    printf '   \033[2m$\033[0m kill -TERM %s    (proxy %s)\n' "${proxy_pids[i]}" "$([[ $i == 0 ]] && echo a || echo b)"
    rc=0
    drain "${proxy_pids[i]}" || rc=$?
    printf '     exit status %s; its log: %s\n' "$rc" \
      "$(grep -o 'every client session finished.*' "$tmp/proxy-$([[ $i == 0 ]] && echo a || echo b).log" || echo '(no drain line)')"
    check "proxy $((i + 1)) drained by SIGTERM: exit status $rc" "rc == 0"
  done
}

if [[ "$mode" == cutover ]]; then
  step "5. Phase 5: the applications move to TARGET directly; the proxies are removed"
  load_start phase5 "phase 5 load through the proxies" "$proxy_a" "$proxy_b"
  at 0.3
  zdm cutover --proxies "$proxies"
  show_until '^Applications connect'
  check "zdm cutover with clients connected: NOT READY (exit status $rc)" "rc == 1"
  load_wait
  say "the applications stopped using the proxies (in real life: redeployed one by one)"
  zdm cutover --proxies "$proxies"
  show
  check "zdm cutover once no client is left: READY (exit status $rc)" "rc == 0"
  fleet_facts
  say "the applications connect to target directly, with the settings above; meanwhile the"
  say "proxies are drained (they stop accepting, finish what is in flight, and exit):"
  load_start direct "phase 5 load on target directly" "$target" "$target"
  drain_proxies
  curl -fsS -X POST "http://$origin_admin/counters/reset" >/dev/null
  load_wait
  left=$(requests_on "$origin_admin")
  say "reads target served: $(reads_on "$target_admin"); requests origin received since the proxies left: $left"
  check "phase 5: origin received no request once the proxies were gone ($left)" "left == 0"
  expected_changes=3 expected_generation=4
  written=(existing phase1 phase3 phase4 phase5 direct)
else
  step "5. Rollback, live: back to ORIGIN as the primary (from any phase before 5)"
  load_start rollback "rollback load" "$proxy_a" "$proxy_b"
  switch_under_load "rollback"
  zdm status --proxies "$proxies"
  show
  check "zdm status after the rollback: exit status $rc" "rc == 0"
  load_wait
  read -r o t <<<"$(settled_reads)"
  say "after the rollback: origin served $o reads, target $t"
  check "rollback: origin serves the reads again ($o), target none ($t)" "o > 0 && t == 0"
  fleet_facts
  drain_proxies
  expected_changes=4 expected_generation=5
  written=(existing phase1 phase3 phase4 rollback)
fi

step "6. Verdict: every row read back from each cluster DIRECTLY (zdm bench --verify)"
# verify KEYSPACE COUNT ADDRESS: "ok" or what is missing.
verify() {
  local json="$tmp/verify-$1-$3.json"
  if "$zdm" bench --contact-points "$3" --keyspace "$1" --verify --count "$2" --concurrency 64 \
      --no-progress --json "$json" >"$json.txt" 2>&1; then
    echo "all $2"
  elif [[ -s "$json" ]]; then
    jq -r '"\(.verify.missing) MISSING, \(.verify.mismatched) WRONG"' "$json"
  else
    echo "NOT READABLE ($(tail -1 "$json.txt"))"
  fi
}
verified=0
for w in "${written[@]}"; do
  case $w in
    existing) label="written to origin before the proxies, copied by zdm migrate"
      kss=(demo_existing) n=$rows clusters=("$origin" "$target") ;;
    phase5) label="phase 5, through the proxies" ;;
    direct) label="phase 5, on target directly (origin left behind, by design)" ;;
    rollback) label="after the rollback, through the proxies" ;;
    *) label="phase ${w#phase}, through the proxies" ;;
  esac
  if [[ "$w" != existing ]]; then
    kss=("demo_${w}_a" "demo_${w}_b") n=$half clusters=("$origin" "$target")
    [[ "$w" == direct ]] && clusters=("$target")
  fi
  line=""
  for c in "${clusters[@]}"; do
    name=$([[ "$c" == "$origin" ]] && echo origin || echo target)
    got=()
    for ks in "${kss[@]}"; do got+=("$(verify "$ks" "$n" "$c")"); done
    if [[ "${got[*]}" == *MISSING* || "${got[*]}" == *NOT* ]]; then
      line+="  $name: ${got[*]}"
      check "$label: rows on $name" "0"
    else
      line+="  $name: all $((n * ${#kss[@]}))"
      verified=$((verified + n * ${#kss[@]}))
    fi
  done
  printf '   %-62s %6d rows %s\n' "$label" "$((n * ${#kss[@]}))" "$line"
done
check "$loads workloads, $total_ops requests: $total_errors client errors" "total_errors == 0"
same_generation=0
[[ "$generations" == "$expected_generation, $expected_generation" ]] && same_generation=1
check "live changes: $changes (zdm_proxy_config_changes_total of both proxies), generations $generations, no restart (both proxies up $uptime s)" \
  "changes == 2 * expected_changes && same_generation == 1"

echo
for line in "${checks[@]}"; do
  if [[ "$line" == FAILED* ]]; then printf '   \033[1m%s\033[0m\n' "$line"; else say "$line"; fi
done
echo
elapsed=$((SECONDS - began))
if ((failed == 0)); then
  if [[ "$mode" == cutover ]]; then
    bold "VERDICT: OK in $elapsed s. Every row is where it belongs ($verified row copies checked): the"
    bold "         application moved from ORIGIN to TARGET through 5 phases, with no proxy restart and"
    bold "         no client error."
  else
    bold "VERDICT: OK in $elapsed s. Back on ORIGIN after phase 4 with nothing lost ($verified row copies"
    bold "         checked, on both clusters), no proxy restart and no client error."
  fi
  exit 0
fi
bold "VERDICT: FAILED: see the lines above (logs kept in $tmp)."
keep_tmp=1
exit 1
