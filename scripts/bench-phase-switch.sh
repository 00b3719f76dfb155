#!/usr/bin/env bash
# A live phase change under load (issue 11): how long `zdm ctl phase 4` takes until the whole fleet
# serves reads from target, and what the switch does to the latency of a running workload.
#
# Two `zdm node`s, two `zdm proxy`s (admin token set), one `zdm bench` per proxy at a fixed rate
# (50% reads, 50% writes). Each round: a steady run, then the same run with `zdm ctl phase 4` in
# its middle (and `zdm ctl rollback` after it, outside the measured window of the next round). A
# probe (the Python driver, one connection per proxy) reads a row planted with different values on
# each cluster in a tight loop and records when each proxy first answers with target's value.
#
# Usage: scripts/bench-phase-switch.sh BUILD_DIR
# Settings (environment): BENCH_ROUNDS (3); BENCH_RATE (2000 ops/s per proxy); BENCH_SECONDS (8)
set -euo pipefail
build=${1:-build}
zdm="$build/apps/zdm/zdm"
[[ -x "$zdm" ]] || { echo "bench-phase-switch: $zdm not found; build first" >&2; exit 2; }
rounds=${BENCH_ROUNDS:-3}
rate=${BENCH_RATE:-2000}
seconds=${BENCH_SECONDS:-8}
conc=16
keys=10000
export ZDM_ADMIN_TOKEN=bench-phase-switch

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
lib_init bench-phase-switch

start origin "$zdm" node --listen 127.0.0.1:0 --admin 127.0.0.1:0 --threads 1 --log-level warn
origin_port=$(port_of "$ready_line")
start target "$zdm" node --listen 127.0.0.1:0 --admin 127.0.0.1:0 --threads 1 --log-level warn \
  --cluster-name target
target_port=$(port_of "$ready_line")
proxy_env "$origin_port" "$target_port"
proxies=() admins=()
for i in 0 1; do
  start "proxy$i" env "${proxy_env[@]}" ZDM_PROXY_THREADS=1 ZDM_ADMIN_TOKEN="$ZDM_ADMIN_TOKEN" \
    "$zdm" proxy --startup-timeout 20
  proxies+=("$(port_of "$ready_line")")
  admins+=("$(metrics_of "$ready_line")")
done
fleet="${admins[0]},${admins[1]}"
for p in "$origin_port" "$target_port"; do
  bench "$tmp/fill-$p.json" "$p" --mix writes --count "$keys"
done
# The planted row: key -1 of zdm bench's table (zdm_bench.kv), a different value on each cluster.
/usr/bin/python3 - "$origin_port" "$target_port" <<'EOF'
import sys
from cassandra.cluster import Cluster
for port, who in ((int(sys.argv[1]), b"origin"), (int(sys.argv[2]), b"target")):
    c = Cluster(["127.0.0.1"], port=port, protocol_version=4)
    s = c.connect()
    s.execute("INSERT INTO zdm_bench.kv (key, value) VALUES (-1, %s)", (who,))
    c.shutdown()
EOF

# run NAME: one bench per proxy for $seconds at $rate ops/s each, in the background.
run() {
  bench_pids=()
  for i in 0 1; do
    bench "$tmp/$1-$i.json" "${proxies[$i]}" --mix mixed:0.5 --rate "$rate" \
      --duration "${seconds}s" &
    bench_pids+=($!)
  done
}
wait_run() { for p in "${bench_pids[@]}"; do wait "$p"; done; }

# The probe: one driver connection per proxy reading the planted row every 0.5 ms; it prints
# "ready", then, when each proxy first answered with target's value (or at its deadline), the
# times. It runs in both runs, started before the load, so that both carry the same extra work.
cat >"$tmp/probe.py" <<'EOF'
import sys, time
from cassandra.cluster import Cluster
from cassandra.policies import WhiteListRoundRobinPolicy
sessions = []
for port in sys.argv[2:]:
    c = Cluster(["127.0.0.1"], port=int(port), protocol_version=4,
                load_balancing_policy=WhiteListRoundRobinPolicy(["127.0.0.1"]))
    s = c.connect()
    sessions.append((s, s.prepare("SELECT value FROM zdm_bench.kv WHERE key = -1")))
print("ready", flush=True)
seen = [None, None]
deadline = time.time() + float(sys.argv[1])
while None in seen and time.time() < deadline:
    for i, (s, q) in enumerate(sessions):
        if seen[i] is None and s.execute(q).one().value == b"target":
            seen[i] = time.time()
    time.sleep(0.0005)
print(" ".join("%.6f" % (t or 0) for t in seen), flush=True)
EOF
# start_probe OUT: the probe in the background ($probe), once it is connected.
start_probe() {
  /usr/bin/python3 "$tmp/probe.py" "$((seconds + 5))" "${proxies[0]}" "${proxies[1]}" \
    >"$1" 2>"$1.log" &
  probe=$!
  until grep -q ready "$1" 2>/dev/null; do sleep 0.05; done
}
p99() { jq -s 'map(.latency_us.p99) | max / 1000' "$@"; }
mx() { jq -s 'map(.latency_us.max) | max / 1000' "$@"; }
ms_between() { awk -v a="$1" -v b="$2" 'BEGIN { print (b - a) * 1000 }'; }

printf '| round | steady p99 ms | steady max ms | switch p99 ms | switch max ms | errors | ctl phase 4 ms | first target read after ctl start, ms (proxy 1, proxy 2) |\n'
printf '|---|---|---|---|---|---|---|---|\n'
for round in $(seq "$rounds"); do
  "$zdm" ctl --proxies "$fleet" rollback >/dev/null
  start_probe "$tmp/steady-probe$round.txt"
  run "steady$round"
  wait_run
  kill "$probe" 2>/dev/null || true
  wait "$probe" 2>/dev/null || true
  start_probe "$tmp/probe$round.txt"
  run "switch$round"
  sleep "$(awk -v s="$seconds" 'BEGIN { print s / 2 }')"
  t0=$(date +%s.%N)
  "$zdm" ctl --proxies "$fleet" phase 4 >"$tmp/ctl$round.txt"
  t1=$(date +%s.%N)
  wait "$probe"
  wait_run
  read -r a b < <(tail -1 "$tmp/probe$round.txt")
  errs=$(jq -s 'map(.errors) | add' "$tmp"/steady"$round"-*.json "$tmp"/switch"$round"-*.json)
  printf '| %s | %.2f | %.2f | %.2f | %.2f | %s | %.0f | %.0f, %.0f |\n' "$round" \
    "$(p99 "$tmp"/steady"$round"-*.json)" "$(mx "$tmp"/steady"$round"-*.json)" \
    "$(p99 "$tmp"/switch"$round"-*.json)" "$(mx "$tmp"/switch"$round"-*.json)" "$errs" \
    "$(ms_between "$t0" "$t1")" "$(ms_between "$t0" "$a")" "$(ms_between "$t0" "$b")"
done
