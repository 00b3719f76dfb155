#!/usr/bin/env bash
# What the proxy costs (issue 4 benchmarks): the same `zdm bench` workload and concurrency over
# three paths: direct to a `zdm node`, through haproxy in TCP mode (the floor for any proxy), and
# through `zdm proxy`. Prints markdown tables for docs/benchmarks.md.
#
# Usage: scripts/bench-proxy.sh BUILD_DIR
# Settings (environment):
#   BENCH_SECONDS (5) per measured run; BENCH_ROUNDS (3): paths alternate each round, medians shown
#   BENCH_CONCURRENCY (64); BENCH_KEYS (100000)
#   BENCH_RATE (5000 ops/s) and BENCH_RATE_CONCURRENCY (4) for the "p50 added at moderate load" runs
#   MIDDLE_THREADS (1): haproxy nbthread and ZDM_PROXY_THREADS
#   BENCH_PIN (0; 1 = taskset: nodes on CPU 0, middle process on CPU 1, bench unpinned)
#   BENCH_OUT: a directory to keep the JSON reports in
#   BENCH_PATHS: the paths to run (default "direct haproxy proxy", plus "before" with PROXY_BEFORE;
#     the latency-added table needs "direct")
#   PROXY_BEFORE: another zdm binary (e.g. a build of the previous commit): its proxy runs as a
#     fourth path ("zdm proxy before") in the same rounds, for before/after comparisons
#
# Writes: direct and haproxy write to ONE node; zdm proxy writes to TWO (origin and target: the
# dual write is its job), so its write rows do twice the backend work on the same 2 cores.
set -euo pipefail
build=${1:-build}
zdm="$build/apps/zdm/zdm"
[[ -x "$zdm" ]] || { echo "bench-proxy: $zdm not found; build first" >&2; exit 2; }
command -v haproxy >/dev/null || { echo "bench-proxy: haproxy missing (scripts/install-deps.sh)" >&2; exit 2; }
seconds=${BENCH_SECONDS:-5}
conc=${BENCH_CONCURRENCY:-64}
rate=${BENCH_RATE:-5000}
# zdm bench starts every worker's rate schedule at the same instant, so N workers send bursts of
# N requests; few workers keep the fixed-rate runs close to one request at a time.
rate_conc=${BENCH_RATE_CONCURRENCY:-4}
keys=${BENCH_KEYS:-100000}
threads=${MIDDLE_THREADS:-1}
pin=${BENCH_PIN:-0}
rounds=${BENCH_ROUNDS:-3}
hz=$(getconf CLK_TCK)

# start, stop, port_of, admin_of, proxy_env, executes, cpu_ticks, bench; $tmp and the exit trap.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
lib_init bench-proxy
at_exit() {
  if [[ -n "${BENCH_OUT:-}" ]]; then mkdir -p "$BENCH_OUT" && cp "$tmp"/*-r*.json "$BENCH_OUT"/ 2>/dev/null || true; fi
}

cpu_node=() cpu_middle=()
if [[ "$pin" == 1 ]]; then cpu_node=(taskset -c 0) cpu_middle=(taskset -c 1); fi

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

echo "bench-proxy: $(nproc) cores; load before: $(uptime | sed 's/.*load average/load average/')" >&2
start origin "${cpu_node[@]}" "$zdm" node --listen 127.0.0.1:0 --admin 127.0.0.1:0 --threads 1 \
  --log-level warn
origin_port=$(port_of "$ready_line") origin_admin=$(admin_of "$ready_line")
start target "${cpu_node[@]}" "$zdm" node --listen 127.0.0.1:0 --admin 127.0.0.1:0 --threads 1 \
  --log-level warn --cluster-name target
target_port=$(port_of "$ready_line") target_admin=$(admin_of "$ready_line")
# Rows to read: keys 0..keys-1 on both nodes.
for p in "$origin_port" "$target_port"; do
  bench "$tmp/load-$p.json" "$p" --mix writes --count "$keys"
done

# start_middle PATH: sets $port (where bench connects) and $middle_pid (empty for direct).
start_middle() {
  middle_pid=
  case $1 in
    direct) port=$origin_port ;;
    haproxy)
      port=$(free_port)
      cat >"$tmp/haproxy.cfg" <<EOF
global
  nbthread $threads
  maxconn 4096
defaults
  mode tcp
  timeout connect 5s
  timeout client 60s
  timeout server 60s
frontend cql
  bind 127.0.0.1:$port
  default_backend node
backend node
  server origin 127.0.0.1:$origin_port
EOF
      "${cpu_middle[@]}" haproxy -f "$tmp/haproxy.cfg" -db >"$tmp/haproxy.log" 2>&1 &
      middle_pid=$!
      pids+=("$middle_pid")
      for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
        sleep 0.05
      done
      echo "bench-proxy: haproxy did not start:" >&2
      cat "$tmp/haproxy.log" >&2
      exit 2
      ;;
    proxy|before)
      local bin=$zdm
      [[ $1 == before ]] && bin=$PROXY_BEFORE
      proxy_env "$origin_port" "$target_port"
      start proxy env "${proxy_env[@]}" ZDM_PROXY_THREADS="$threads" \
        ZDM_LOG_LEVEL=WARN "${cpu_middle[@]}" "$bin" proxy --startup-timeout 20
      middle_pid=$started_pid
      port=$(port_of "$ready_line")
      ;;
  esac
}

# run PATH WORKLOAD ARGS...: warm up briefly, then one measured run. Its JSON report gets the
# middle process's CPU per 100k requests and the EXECUTEs each node served added.
run() {
  local path=$1 workload=$2
  shift 2
  bench "$tmp/warm.json" "$port" --duration 1s "$@"
  local before=0 after=0 o0 t0 out="$tmp/$path-$workload-r$round.json"
  o0=$(executes "$origin_admin") t0=$(executes "$target_admin")
  [[ -n "$middle_pid" ]] && before=$(cpu_ticks "$middle_pid")
  bench "$out.raw" "$port" --duration "${seconds}s" "$@"
  [[ -n "$middle_pid" ]] && after=$(cpu_ticks "$middle_pid")
  jq --argjson ticks $((after - before)) --argjson hz "$hz" --argjson middle "${middle_pid:-0}" \
    --argjson o $(( $(executes "$origin_admin") - o0 )) --argjson t $(( $(executes "$target_admin") - t0 )) \
    '. + {origin_executes: $o, target_executes: $t,
          cpu_per_100k: (if $middle > 0 and .ops + .errors > 0
                         then $ticks / $hz / (.ops + .errors) * 100000 else null end)}' \
    "$out.raw" >"$out"
  echo "bench-proxy: round $round: $path $workload $(jq -r '.throughput_ops_s | floor' "$out") ops/s" >&2
}

# Paths alternate within each round, so that load from other work on the machine hits all of them.
paths=(direct haproxy proxy)
if [[ -n "${PROXY_BEFORE:-}" ]]; then
  [[ -x "$PROXY_BEFORE" ]] || { echo "bench-proxy: PROXY_BEFORE=$PROXY_BEFORE is not executable" >&2; exit 2; }
  paths+=(before)
fi
if [[ -n "${BENCH_PATHS:-}" ]]; then read -r -a paths <<<"$BENCH_PATHS"; fi
for round in $(seq "$rounds"); do
  for path in "${paths[@]}"; do
    start_middle "$path"
    run "$path" reads --mix reads
    run "$path" writes --mix writes
    run_conc=$rate_conc run "$path" rate --mix reads --rate "$rate"
    [[ -n "$middle_pid" ]] && stop "$middle_pid"
  done
done
echo "bench-proxy: load after: $(uptime | sed 's/.*load average/load average/')" >&2

label() {
  case $1 in
    direct) echo "direct to zdm node" ;;
    haproxy) echo "haproxy $(haproxy -v | awk 'NR==1{print $3}') (TCP mode)" ;;
    proxy) echo "zdm proxy" ;;
    before) echo "zdm proxy before ($(basename "$PROXY_BEFORE"))" ;;
  esac
}
# Medians over the rounds, each metric on its own.
medians() {
  jq -s 'def median: sort | if length == 0 then null else .[(length - 1) / 2 | floor] end;
    def r2: if . == null then "-" else (. * 100 | round) / 100 end;
    { ops: (map(.throughput_ops_s) | median | floor), p50: (map(.latency_us.p50) | median),
      p99: (map(.latency_us.p99) | median | round), errors: (map(.errors) | add),
      cpu: (map(.cpu_per_100k) | map(select(. != null)) | median | r2),
      origin: (map(.origin_executes) | add), target: (map(.target_executes) | add),
      ops_total: (map(.ops) | add) }' "$tmp/$1-$2"-r*.json
}
echo
echo "Same workload for every path: \`zdm bench\`, kv table, 100-byte values, $keys keys, prepared"
echo "statements, protocol v5 (negotiated), concurrency $conc over 2 connections, ${seconds} s per run"
echo "after a 1 s warm-up; medians of $rounds round(s). Middle process: $threads thread(s)$([[ $pin == 1 ]] && echo '; nodes pinned to CPU 0, middle to CPU 1')."
echo
echo "| workload | path | ops/s | p50 µs | p99 µs | errors | middle CPU s per 100k requests | requests reaching origin / target node |"
echo "|---|---|---|---|---|---|---|---|"
for workload in reads writes; do
  for path in "${paths[@]}"; do
    name="prepared reads"
    [[ $workload == writes ]] && name=$([[ $path == proxy || $path == before ]] && echo "writes (dual: 2 nodes)" || echo "writes (1 node)")
    medians "$path" "$workload" | jq -r --arg w "$name" --arg p "$(label "$path")" \
      '"| \($w) | \($p) | \(.ops) | \(.p50 | round) | \(.p99) | \(.errors) | \(.cpu) | \(.origin / .ops_total * 100 | round)% / \(.target / .ops_total * 100 | round)% |"'
  done
done
echo
echo "Latency added at moderate load: prepared reads at a fixed $rate ops/s, concurrency $rate_conc"
echo "(latency counted from each request's scheduled time, as zdm bench does with --rate)."
echo
echo "| path | ops/s | p50 µs | p99 µs | p50 added over direct, µs | middle CPU s per 100k requests |"
echo "|---|---|---|---|---|---|"
direct_p50=$( [[ " ${paths[*]} " == *" direct "* ]] && medians direct rate | jq '.p50' || echo 0)
for path in "${paths[@]}"; do
  medians "$path" rate | jq -r --arg p "$(label "$path")" --argjson d "$direct_p50" \
    '"| \($p) | \(.ops) | \(.p50 | round) | \(.p99) | \((.p50 - $d) | round) | \(.cpu) |"'
done
