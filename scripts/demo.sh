#!/usr/bin/env bash
# The demo for what exists today: the protocol library, checked live against the DataStax Python
# driver. (When the embedded node and the proxy land, this becomes the five-phase migration.)
# Usage: scripts/demo.sh BUILD_DIR
set -euo pipefail
build=${1:-build}
zdm="$build/apps/zdm/zdm"
py=/usr/bin/python3   # Debian's python3-cassandra loads only here

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "1. The DataStax Python driver encodes a QUERY frame (protocol v4); zdm decodes it"
frame=$($py - <<'PY'
from cassandra.protocol import QueryMessage, ProtocolHandler
from cassandra import ConsistencyLevel
msg = QueryMessage("INSERT INTO shop.orders (id, item) VALUES (42, 'tea')",
                   ConsistencyLevel.LOCAL_QUORUM)
print(bytes(ProtocolHandler.encode_message(msg, 7, 4, None, False)).hex())
PY
)
echo "driver bytes: $frame"
"$zdm" frame decode "$frame"

step "2. The same statement in protocol v5, with a keyspace per request"
frame5=$($py - <<'PY'
from cassandra.protocol import QueryMessage, ProtocolHandler
from cassandra import ConsistencyLevel
msg = QueryMessage("SELECT * FROM orders WHERE id = 42", ConsistencyLevel.ONE, keyspace="shop")
print(bytes(ProtocolHandler.encode_message(msg, 8, 5, None, False)).hex())
PY
)
"$zdm" frame decode "$frame5"

step "3. Partition tokens: zdm vs the driver's Murmur3 (what Cassandra's partitioner computes)"
for key in user42 order-1001 "ünïcode"; do
  ours=$("$zdm" token --text "$key")
  theirs=$($py -c "import sys; from cassandra.cmurmur3 import murmur3; print(murmur3(sys.argv[1].encode()))" "$key")
  printf '  %-12s zdm=%-21s driver=%-21s %s\n' "$key" "$ours" "$theirs" \
    "$([[ "$ours" == "$theirs" ]] && echo same || echo DIFFERENT)"
  [[ "$ours" == "$theirs" ]]
done

step "Done. Next: 'make test' runs the unit, golden-bytes and fuzz-corpus suites."
