"""`zdm node --cassandra-version 2.2` seen by the Python driver: it must pick its Cassandra 2.2
schema parser (system.schema_* tables) and build the same metadata a real 2.2.18 node gives, and
the schema rows must be the ones recorded from 2.2.18 (/work/shared/ref/cassandra-2.2-observed.md).
"""
import socket
import struct
import uuid

import pytest
from cassandra import InvalidRequest
from cassandra.cluster import Cluster
from cassandra.query import dict_factory, named_tuple_factory

from cql_wire import ERROR, READY, read_frame, startup
from zdm_procs import Node

M = "org.apache.cassandra.db.marshal."

SHOP_SCHEMA = [
    "CREATE KEYSPACE shop WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}",
    "CREATE TYPE shop.addr (street text, zip int)",
    "CREATE TABLE shop.orders (cust text, day date, id timeuuid, total decimal, note text static, "
    "items list<text>, tags set<text>, attrs map<text,int>, ship frozen<addr>, "
    "pair tuple<int,text>, fl frozen<list<int>>, PRIMARY KEY ((cust, day), id)) "
    "WITH CLUSTERING ORDER BY (id DESC)",
    "CREATE TABLE shop.hits (page text PRIMARY KEY, n counter)",
]


def _column(cf, name, index, kind, validator):
    return {"keyspace_name": "shop", "columnfamily_name": cf, "column_name": name,
            "component_index": index, "index_name": None, "index_options": "null",
            "index_type": None, "type": kind, "validator": validator}


# The reference rows, as the driver returned them from Cassandra 2.2.18.
REF_SCHEMA_KEYSPACES = [
    {"keyspace_name": "shop", "durable_writes": True,
     "strategy_class": "org.apache.cassandra.locator.SimpleStrategy",
     "strategy_options": '{"replication_factor":"1"}'},
]
REF_SCHEMA_COLUMNS = [
    _column("hits", "n", 0, "regular", M + "CounterColumnType"),
    _column("hits", "page", None, "partition_key", M + "UTF8Type"),
    _column("orders", "attrs", 1, "regular",
            M + "MapType(" + M + "UTF8Type," + M + "Int32Type)"),
    _column("orders", "cust", 0, "partition_key", M + "UTF8Type"),
    _column("orders", "day", 1, "partition_key", M + "SimpleDateType"),
    _column("orders", "fl", 1, "regular",
            M + "FrozenType(" + M + "ListType(" + M + "Int32Type))"),
    _column("orders", "id", 0, "clustering_key", M + "ReversedType(" + M + "TimeUUIDType)"),
    _column("orders", "items", 1, "regular", M + "ListType(" + M + "UTF8Type)"),
    _column("orders", "note", 1, "static", M + "UTF8Type"),
    _column("orders", "pair", 1, "regular",
            M + "TupleType(" + M + "Int32Type," + M + "UTF8Type)"),
    _column("orders", "ship", 1, "regular",
            M + "UserType(shop,61646472,737472656574:" + M + "UTF8Type,7a6970:" + M + "Int32Type)"),
    _column("orders", "tags", 1, "regular", M + "SetType(" + M + "UTF8Type)"),
    _column("orders", "total", 1, "regular", M + "DecimalType"),
]
_CF_COMMON = {
    "keyspace_name": "shop", "bloom_filter_fp_chance": 0.01,
    "caching": '{"keys":"ALL", "rows_per_partition":"NONE"}', "comment": "",
    "compaction_strategy_class": "org.apache.cassandra.db.compaction.SizeTieredCompactionStrategy",
    "compaction_strategy_options": "{}",
    "compression_parameters":
        '{"sstable_compression":"org.apache.cassandra.io.compress.LZ4Compressor"}',
    "default_time_to_live": 0, "dropped_columns": None, "gc_grace_seconds": 864000,
    "is_dense": False, "local_read_repair_chance": 0.1, "max_compaction_threshold": 32,
    "max_index_interval": 2048, "memtable_flush_period_in_ms": 0, "min_compaction_threshold": 4,
    "min_index_interval": 128, "read_repair_chance": 0.0, "speculative_retry": "99.0PERCENTILE",
    "subcomparator": None, "type": "Standard",
}
REF_SCHEMA_COLUMNFAMILIES = [
    dict(_CF_COMMON, columnfamily_name="hits",
         comparator=M + "CompositeType(" + M + "UTF8Type)",
         default_validator=M + "CounterColumnType", key_validator=M + "UTF8Type"),
    dict(_CF_COMMON, columnfamily_name="orders",
         comparator=(M + "CompositeType(" + M + "ReversedType(" + M + "TimeUUIDType)," + M
                     + "UTF8Type," + M + "ColumnToCollectionType(6974656d73:" + M + "ListType("
                     + M + "UTF8Type),74616773:" + M + "SetType(" + M + "UTF8Type),6174747273:"
                     + M + "MapType(" + M + "UTF8Type," + M + "Int32Type)))"),
         default_validator=M + "BytesType",
         key_validator=M + "CompositeType(" + M + "UTF8Type," + M + "SimpleDateType)"),
]
REF_SCHEMA_USERTYPES = [
    {"keyspace_name": "shop", "type_name": "addr", "field_names": ["street", "zip"],
     "field_types": [M + "UTF8Type", M + "Int32Type"]},
]


@pytest.fixture(scope="module")
def node22():
    n = Node("--cassandra-version", "2.2", cluster_name="interop22")
    yield n
    n.stop()


@pytest.fixture(scope="module")
def cluster22(node22):
    cluster = Cluster(contact_points=[node22.host], port=node22.port, protocol_version=4)
    session = cluster.connect()
    for statement in SHOP_SCHEMA:
        session.execute(statement)
    cluster.refresh_schema_metadata()
    yield cluster, session
    cluster.shutdown()


def _select(session, query):
    session.row_factory = dict_factory
    try:
        return list(session.execute(query))
    finally:
        session.row_factory = named_tuple_factory


def test_schema_rows_are_the_reference_rows(cluster22):
    _, session = cluster22
    ks = _select(session, "SELECT * FROM system.schema_keyspaces WHERE keyspace_name = 'shop'")
    assert ks == REF_SCHEMA_KEYSPACES
    columns = _select(session, "SELECT * FROM system.schema_columns WHERE keyspace_name = 'shop'")
    assert list(columns[0].keys()) == list(REF_SCHEMA_COLUMNS[0].keys())
    assert columns == REF_SCHEMA_COLUMNS
    tables = _select(session,
                     "SELECT * FROM system.schema_columnfamilies WHERE keyspace_name = 'shop'")
    assert list(tables[0].keys()) == [
        "keyspace_name", "columnfamily_name", "bloom_filter_fp_chance", "caching", "cf_id",
        "comment", "compaction_strategy_class", "compaction_strategy_options", "comparator",
        "compression_parameters", "default_time_to_live", "default_validator", "dropped_columns",
        "gc_grace_seconds", "is_dense", "key_validator", "local_read_repair_chance",
        "max_compaction_threshold", "max_index_interval", "memtable_flush_period_in_ms",
        "min_compaction_threshold", "min_index_interval", "read_repair_chance",
        "speculative_retry", "subcomparator", "type"]
    for row in tables:
        assert isinstance(row.pop("cf_id"), uuid.UUID)
    assert tables == REF_SCHEMA_COLUMNFAMILIES
    types = _select(session, "SELECT * FROM system.schema_usertypes WHERE keyspace_name = 'shop'")
    assert types == REF_SCHEMA_USERTYPES


def test_driver_metadata_sees_the_schema(cluster22):
    cluster, _ = cluster22
    assert cluster.protocol_version == 4
    metadata = cluster.metadata
    assert set(metadata.keyspaces) == {"system", "system_auth", "system_distributed",
                                       "system_traces", "shop"}
    shop = metadata.keyspaces["shop"]
    assert shop.replication_strategy.replication_factor == 1
    assert list(shop.user_types) == ["addr"]
    addr = shop.user_types["addr"]
    assert addr.field_names == ["street", "zip"]
    assert addr.field_types == ["text", "int"]

    orders = shop.tables["orders"]
    assert not orders.is_compact_storage
    assert [c.name for c in orders.partition_key] == ["cust", "day"]
    assert [c.name for c in orders.clustering_key] == ["id"]
    assert orders.clustering_key[0].is_reversed
    types = {name: c.cql_type for name, c in orders.columns.items()}
    assert types == {
        "cust": "text", "day": "date", "id": "timeuuid", "total": "decimal", "note": "text",
        "items": "list<text>", "tags": "set<text>", "attrs": "map<text, int>",
        "ship": "frozen<addr>", "pair": "frozen<tuple<int, text>>", "fl": "frozen<list<int>>",
    }
    assert orders.columns["note"].is_static
    assert [c.is_static for n, c in orders.columns.items() if n != "note"] == [False] * 10
    cql = orders.export_as_string()
    assert "PRIMARY KEY ((cust, day), id)" in cql
    assert "CLUSTERING ORDER BY (id DESC)" in cql

    hits = shop.tables["hits"]
    assert [c.name for c in hits.partition_key] == ["page"]
    assert hits.clustering_key == []
    assert hits.columns["n"].cql_type == "counter"
    assert not hits.is_compact_storage
    # The system tables parse too (the driver logs, not raises, on a table it cannot read).
    local = metadata.keyspaces["system"].tables["local"]
    assert local._exc_info is None
    assert "thrift_version" in local.columns
    assert "peers_v2" not in metadata.keyspaces["system"].tables


def test_system_local_and_peers_have_22_columns(cluster22):
    _, session = cluster22
    local = _select(session, "SELECT * FROM system.local")
    assert len(local) == 1
    assert list(local[0].keys()) == [
        "key", "bootstrapped", "broadcast_address", "cluster_name", "cql_version", "data_center",
        "gossip_generation", "host_id", "listen_address", "native_protocol_version",
        "partitioner", "rack", "release_version", "rpc_address", "schema_version",
        "thrift_version", "tokens", "truncated_at"]
    assert local[0]["release_version"] == "2.2.18"
    assert local[0]["cql_version"] == "3.3.1"
    assert local[0]["native_protocol_version"] == "4"
    assert local[0]["partitioner"] == "org.apache.cassandra.dht.Murmur3Partitioner"
    result = session.execute("SELECT * FROM system.peers")
    assert list(result.column_names) == [
        "peer", "data_center", "host_id", "preferred_ip", "rack", "release_version",
        "rpc_address", "schema_version", "tokens"]
    estimates = session.execute("SELECT * FROM system.size_estimates")
    assert list(estimates.column_names) == [
        "keyspace_name", "table_name", "range_start", "range_end", "mean_partition_size",
        "partitions_count"]


def test_tables_2_2_does_not_have_are_refused(cluster22):
    _, session = cluster22
    with pytest.raises(InvalidRequest) as e:
        session.execute("SELECT * FROM system.peers_v2")
    assert "code=2200 [Invalid query]" in str(e.value)
    assert "unconfigured table peers_v2" in str(e.value)
    with pytest.raises(InvalidRequest) as e:
        session.execute("SELECT * FROM system_schema.tables")
    assert "code=2200 [Invalid query]" in str(e.value)
    assert "Keyspace system_schema does not exist" in str(e.value)


@pytest.mark.parametrize("column", ["items", "tags", "attrs", "fl"])
@pytest.mark.parametrize("function,word", [("writetime", "writeTime"), ("ttl", "ttl")])
def test_writetime_and_ttl_refused_on_every_collection(cluster22, column, function, word):
    _, session = cluster22
    with pytest.raises(InvalidRequest) as e:
        session.execute("SELECT %s(%s) FROM shop.orders" % (function, column))
    assert "code=2200 [Invalid query]" in str(e.value)
    assert "Cannot use selection function %s on collections" % word in str(e.value)


def test_writetime_accepted_on_tuple_udt_static_counter(cluster22):
    _, session = cluster22
    session.execute("INSERT INTO shop.orders (cust, day, id, note, pair, ship) VALUES "
                    "('c', '2024-01-02', now(), 'n', (1, 'a'), {street: 's', zip: 1}) "
                    "USING TIMESTAMP 1234")
    row = session.execute("SELECT writetime(pair), writetime(ship), writetime(note), ttl(pair) "
                          "FROM shop.orders").one()
    assert list(row)[:3] == [1234, 1234, 1234]
    session.execute("UPDATE shop.hits SET n = n + 0 WHERE page = 'p'")
    row = session.execute("SELECT n, writetime(n), ttl(n) FROM shop.hits WHERE page = 'p'").one()
    assert row[0] == 0 and row[2] is None


def test_driver_negotiates_down_to_v4(node22):
    cluster = Cluster(contact_points=[node22.host], port=node22.port)
    try:
        session = cluster.connect()
        assert cluster.protocol_version == 4
        assert session.execute("SELECT release_version FROM system.local").one()[0] == "2.2.18"
    finally:
        cluster.shutdown()
    cluster = Cluster(contact_points=[node22.host], port=node22.port, protocol_version=3)
    try:
        cluster.connect()
        assert cluster.protocol_version == 3
    finally:
        cluster.shutdown()


def test_v5_refused_with_protocol_error_in_v4(node22):
    with socket.create_connection((node22.host, node22.port), timeout=10) as sock:
        sock.sendall(startup(5, stream=3))
        reply = read_frame(sock)
    assert reply.version == 0x84  # a v4 response
    assert reply.stream == 3
    assert reply.opcode == ERROR
    code, length = struct.unpack(">iH", reply.body[:6])
    assert code == 0x000A
    assert reply.body[6:6 + length].decode() == (
        "Invalid or unsupported protocol version (5); the lowest supported version is 3 and the "
        "greatest is 4")
    with socket.create_connection((node22.host, node22.port), timeout=10) as sock:
        sock.sendall(startup(4, stream=1))
        assert read_frame(sock).opcode == READY
