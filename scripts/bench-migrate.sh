#!/usr/bin/env bash
# Benchmarks zdm migrate and zdm validate between two zdm nodes on this machine.
# Usage: scripts/bench-migrate.sh BUILD_DIR [ROWS]      (default 1,000,000 rows)
# Cases, each on a fresh target node (origin keeps its data):
#   rows     ROWS rows of ~100 bytes in 5 text columns, one partition each: migrate (batches of
#            32 partitions, then the default 10), validate
#   fix      validate --fix missing after target's table was truncated (every row to repair)
#   wide     ROWS/4 rows (or $WIDE_ROWS) in ONE partition: migrate and validate (paging inside a
#            partition)
# For each: wall time, rows/s, CPU seconds of the zdm process, peak RSS (GNU time).
set -euo pipefail
build=${1:?usage: scripts/bench-migrate.sh BUILD_DIR [ROWS]}
rows=${2:-1000000}
zdm="$build/apps/zdm/zdm"
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/scripts/lib.sh"
lib_init bench-migrate

start_node() {  # NAME: starts a node, sets $node_port
  start "$1" "$zdm" node --listen 127.0.0.1:0 --cluster-name "$1"
  node_port=$(port_of "$ready_line")
  node_pid=$started_pid
}

# measure LABEL ROWS CMD...: runs a zdm command under GNU time and prints one result line.
measure() {
  local label=$1 n=$2
  shift 2
  /usr/bin/time -f '%e %U %S %M' -o "$tmp/time" "$@" --progress never >"$tmp/out" 2>"$tmp/err" || true
  read -r wall user sys rss <"$tmp/time"
  awk -v l="$label" -v n="$n" -v w="$wall" -v u="$user" -v s="$sys" -v r="$rss" 'BEGIN {
    printf "%-28s %9d rows %7.2f s %9.0f rows/s  cpu %5.2f s (%5.2f s per 1M rows)  peak RSS %6.1f MiB\n",
      l, n, w, n / w, u + s, (u + s) * 1e6 / n, r / 1024 }'
  grep -E '^(migrate|validate) ' "$tmp/out" | sed 's/^/    /'
}

start_node origin
origin_port=$node_port
echo "loading $rows rows into origin..."
/usr/bin/python3 "$root/scripts/bench_migrate_load.py" 127.0.0.1 "$origin_port" "$rows"
wide_rows=${WIDE_ROWS:-$((rows / 4))}
/usr/bin/python3 "$root/scripts/bench_migrate_load.py" 127.0.0.1 "$origin_port" "$wide_rows" --wide

# Batches of 32 partitions (the clusters' warning threshold raised), then the default (10).
start_node target32
measure "migrate, 32 partitions/batch" "$rows" "$zdm" migrate --origin "127.0.0.1:$origin_port" \
  --target "127.0.0.1:$node_port" --tables bench.rows --create-schema --batch-partitions 32
stop "$node_pid"
start_node target
target_port=$node_port
target_pid=$node_pid
clusters=(--origin "127.0.0.1:$origin_port" --target "127.0.0.1:$target_port")
measure "migrate (empty target)" "$rows" "$zdm" migrate "${clusters[@]}" --tables bench.rows --create-schema
measure "migrate again (no change)" "$rows" "$zdm" migrate "${clusters[@]}" --tables bench.rows
measure "validate" "$rows" "$zdm" validate "${clusters[@]}" --tables bench.rows

# --fix: target loses the table's rows (TRUNCATE leaves no tombstones), validate repairs them all.
/usr/bin/python3 -c "
import sys
from cassandra.cluster import Cluster
Cluster(['127.0.0.1'], port=int(sys.argv[1]), protocol_version=4).connect().execute('TRUNCATE bench.rows')
" "$target_port"
echo "(target's bench.rows truncated: all $rows rows are missing)"
measure "validate --fix missing" "$rows" "$zdm" validate "${clusters[@]}" --tables bench.rows --fix missing
measure "validate after the fix" "$rows" "$zdm" validate "${clusters[@]}" --tables bench.rows

stop "$target_pid"
start_node target2
clusters=(--origin "127.0.0.1:$origin_port" --target "127.0.0.1:$node_port")
measure "wide: migrate (1 partition)" "$wide_rows" "$zdm" migrate "${clusters[@]}" --tables bench.wide --create-schema
measure "wide: validate" "$wide_rows" "$zdm" validate "${clusters[@]}" --tables bench.wide
