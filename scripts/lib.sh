# shellcheck shell=bash
# shellcheck disable=SC2034,SC2154  # variables set for / read from ($zdm $conc $keys) the caller
# Helpers shared by scripts/demo.sh and the bench-*.sh scripts. Sourced, not run:
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#   lib_init NAME     # once, after `set -euo pipefail` and after $zdm is set
# Every background process goes through `start` or `spawn`, so that the exit trap stops it;
# `stop`, `reap` and `drain` wait for one and forget it (the trap never signals a reaped pid).

# lib_init NAME: messages start with "NAME:"; $tmp is a fresh /tmp/zdm-NAME.XXXXXX, removed at
# exit unless $keep_tmp is non-empty by then; $pids collects the processes `start` runs. At exit,
# after stopping them, a function `at_exit` runs if the script defined one (e.g. to copy files
# out of $tmp). INT and TERM exit with status 130 (through the same trap).
lib_init() {
  lib_name=$1
  tmp=$(mktemp -d "/tmp/zdm-$1.XXXXXX")
  pids=()
  keep_tmp=${keep_tmp:-}
  trap lib_cleanup EXIT
  trap 'exit 130' INT TERM
}

lib_cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if declare -F at_exit >/dev/null; then at_exit || true; fi
  [[ -n "$keep_tmp" ]] || rm -rf "$tmp"
}

# start NAME CMD...: runs CMD in the background (stdout to $tmp/NAME.out, stderr to
# $tmp/NAME.log) and waits, 30 s at most, for its "listening on" ready line. Sets $started_pid
# and $ready_line; exits with status 2 and the log's tail if the process dies or stays silent.
start() {
  local name=$1
  shift
  "$@" >"$tmp/$name.out" 2>"$tmp/$name.log" &
  started_pid=$!
  pids+=("$started_pid")
  for _ in $(seq 300); do
    if ready_line=$(grep -m1 'listening on' "$tmp/$name.out" 2>/dev/null); then return 0; fi
    kill -0 "$started_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "$lib_name: $name did not start; its log:" >&2
  tail -20 "$tmp/$name.log" >&2
  exit 2
}

# spawn NAME CMD...: runs CMD in the background like `start` (stdout to $tmp/NAME.out, stderr to
# $tmp/NAME.log) but waits for nothing. Sets $started_pid.
spawn() {
  local name=$1
  shift
  "$@" >"$tmp/$name.out" 2>"$tmp/$name.log" &
  started_pid=$!
  pids+=("$started_pid")
}

# lib_forget PID: the exit trap no longer stops PID (it has been waited for).
lib_forget() {
  local pid kept=()
  for pid in "${pids[@]}"; do [[ "$pid" == "$1" ]] || kept+=("$pid"); done
  pids=("${kept[@]}")
}

# reap PID: waits for a process `start` or `spawn` ran; returns its exit status.
reap() {
  local rc=0
  wait "$1" || rc=$?
  lib_forget "$1"
  return "$rc"
}

# stop PID: ends a process `start` or `spawn` ran and waits for it.
stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; lib_forget "$1"; }

# drain PID: SIGTERM (a graceful shutdown for the proxy and the node), waits for the process and
# returns its exit status.
drain() {
  kill -TERM "$1" 2>/dev/null || true
  reap "$1"
}

# Ready lines:
#   "zdm node: listening on 127.0.0.1:41234 (cql), admin on 127.0.0.1:40001"
#   "zdm proxy: listening on 127.0.0.1:41235 (cql), metrics on 127.0.0.1:40002"
port_of() { sed -E 's/.*listening on [^ ]*:([0-9]+).*/\1/' <<<"$1"; }    # 41234
admin_of() { sed -E 's/.*admin on ([^ ,]+).*/\1/' <<<"$1"; }             # 127.0.0.1:40001
metrics_of() { sed -E 's/.*metrics on ([^ ]+).*/\1/' <<<"$1"; }          # 127.0.0.1:40002

# proxy_env ORIGIN_PORT TARGET_PORT: sets the array $proxy_env to the ZDM_* settings of a proxy
# between two local nodes, listening (CQL and metrics) on free ports of 127.0.0.1. Use as
#   start proxy env "${proxy_env[@]}" ZDM_READ_MODE=... "$zdm" proxy --startup-timeout 20
proxy_env() {
  proxy_env=(ZDM_ORIGIN_CONTACT_POINTS=127.0.0.1 ZDM_ORIGIN_PORT="$1"
    ZDM_TARGET_CONTACT_POINTS=127.0.0.1 ZDM_TARGET_PORT="$2"
    ZDM_PROXY_LISTEN_ADDRESS=127.0.0.1 ZDM_PROXY_LISTEN_PORT=0
    ZDM_METRICS_ADDRESS=127.0.0.1 ZDM_METRICS_PORT=0)
}

# executes ADMIN_ADDR: EXECUTE requests a node has served since its last counter reset.
executes() { curl -fsS "http://$1/counters" | jq '.requests.EXECUTE'; }

# cpu_ticks PID: utime + stime of a process in clock ticks (fields 14 and 15 of /proc/PID/stat,
# counted after "comm", which may contain spaces).
cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }

# bench OUT.json PORT ARGS...: one `zdm bench` run against 127.0.0.1:PORT with the calling
# script's $conc (or $run_conc when set) over 2 connections, $keys partitions, no warm-up; the
# JSON report goes to OUT.json, the text to OUT.json.txt. Exits with status 1 and the text if the
# run fails.
bench() {
  local out=$1 port=$2
  shift 2
  if ! "$zdm" bench --contact-points "127.0.0.1:$port" --concurrency "${run_conc:-$conc}" --connections 2 \
      --partitions "$keys" --warmup 0 --no-progress --json "$out" "$@" >"$out.txt" 2>&1; then
    echo "$lib_name: zdm bench failed ($*):" >&2
    cat "$out.txt" >&2
    exit 1
  fi
}
