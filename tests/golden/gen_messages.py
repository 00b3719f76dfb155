#!/usr/bin/python3
"""Golden request frames from the DataStax Python driver (an independent implementation).

Builds request messages with cassandra.protocol (STARTUP, OPTIONS, QUERY with every parameter,
PREPARE with keyspace, EXECUTE with result metadata id, BATCH with mixed children, REGISTER,
AUTH_RESPONSE, DSE REVISE_REQUEST), encodes each with ProtocolHandler.encode_message for every
protocol version the message exists in (3, 4, 5, DSE_V1 0x41, DSE_V2 0x42), and writes
DIR/messages.json: a list of {name, version, stream, opcode, frame (hex), fields}. The C++ test
messages_golden_test.cpp decodes each frame, checks the fields and re-encodes to identical bytes.

Run with /usr/bin/python3 (where python3-cassandra is installed): gen_messages.py --out DIR
"""

import argparse
import json
import os
import sys
import types

from cassandra import ConsistencyLevel, ProtocolVersion
from cassandra.protocol import (AuthResponseMessage, BatchMessage, ExecuteMessage, OptionsMessage,
                                PrepareMessage, ProtocolHandler, QueryMessage, RegisterMessage,
                                ReviseRequestMessage, StartupMessage, _UNSET_VALUE)
from cassandra.query import BatchType

VERSIONS = [3, 4, 5, ProtocolVersion.DSE_V1, ProtocolVersion.DSE_V2]
CL_NAMES = ConsistencyLevel.value_to_name


def hexs(b):
    return None if b is None else b.hex()


def value_field(v):
    if v is None:
        return {"kind": "null"}
    if v is _UNSET_VALUE:
        return {"kind": "unset"}
    return {"kind": "set", "hex": v.hex()}


def query_param_fields(msg, version):
    fields = {
        "consistency": CL_NAMES[msg.consistency_level],
        "values": None if msg.query_params is None else [value_field(v) for v in msg.query_params],
        # The driver (3.25) never writes the Skip_metadata flag, whatever skip_meta says.
        "skip_metadata": False,
        "page_size": msg.fetch_size or None,
        "paging_state": hexs(msg.paging_state) if msg.paging_state else None,
        "serial_consistency": (CL_NAMES[msg.serial_consistency_level]
                               if msg.serial_consistency_level else None),
        "timestamp": msg.timestamp,
        "keyspace": msg.keyspace,
        "continuous_paging": None,
    }
    cp = msg.continuous_paging_options
    if cp:
        fields["continuous_paging"] = {
            "max_pages": cp.max_pages,
            "max_pages_per_second": cp.max_pages_per_second,
            "next_pages": cp.max_queue_size if version == ProtocolVersion.DSE_V2 else None,
        }
    return fields


def message_fields(msg, version):
    name = msg.name
    if name == "STARTUP":
        options = dict(msg.options)
        options["CQL_VERSION"] = msg.cqlversion
        return {"options": [[k, v] for k, v in options.items()]}
    if name == "OPTIONS":
        return {}
    if name == "QUERY":
        return dict(query=msg.query, **query_param_fields(msg, version))
    if name == "EXECUTE":
        fields = query_param_fields(msg, version)
        fields["id"] = msg.query_id.hex()
        fields["result_metadata_id"] = (hexs(msg.result_metadata_id)
                                        if ProtocolVersion.uses_prepared_metadata(version) else None)
        return fields
    if name == "PREPARE":
        return {"query": msg.query, "keyspace": msg.keyspace}
    if name == "BATCH":
        statements = []
        for prepared, string_or_id, params in msg.queries:
            s = {"kind": "prepared" if prepared else "query",
                 "values": [value_field(v) for v in params]}
            if prepared:
                s["id"] = string_or_id.hex()
            else:
                s["query"] = string_or_id
            statements.append(s)
        return {"type": msg.batch_type.name, "statements": statements,
                "consistency": CL_NAMES[msg.consistency_level],
                "serial_consistency": (CL_NAMES[msg.serial_consistency_level]
                                       if msg.serial_consistency_level else None),
                "timestamp": msg.timestamp, "keyspace": msg.keyspace}
    if name == "REGISTER":
        return {"event_types": list(msg.event_list)}
    if name == "AUTH_RESPONSE":
        return {"token": msg.response.hex()}
    if name == "REVISE_REQUEST":
        return {"revision_type": msg.op_type, "target_stream": msg.op_id,
                "next_pages": msg.next_pages if msg.op_type == 2 else None}
    raise ValueError("no fields for " + name)


def paging(max_pages, per_second, next_pages):
    return types.SimpleNamespace(max_pages=max_pages, max_pages_per_second=per_second,
                                 max_queue_size=next_pages)


def build_messages(version):
    """(name, message) pairs valid in `version`, built only with the driver's own classes."""
    v5_like = ProtocolVersion.uses_keyspace_flag(version)
    dse = ProtocolVersion.has_continuous_paging_support(version)
    unset_ok = version >= 4
    out = []

    out.append(("startup", StartupMessage(cqlversion="3.0.0", options={
        "COMPRESSION": "lz4", "DRIVER_NAME": "DataStax Python Driver", "DRIVER_VERSION": "3.25.0"})))
    out.append(("startup_minimal", StartupMessage(cqlversion="3.0.0", options={})))
    out.append(("options", OptionsMessage()))

    out.append(("query_minimal", QueryMessage("SELECT * FROM system.local",
                                              ConsistencyLevel.ONE)))
    full = QueryMessage("SELECT * FROM ks.tbl WHERE k = ? AND c > ?", ConsistencyLevel.LOCAL_QUORUM,
                        serial_consistency_level=ConsistencyLevel.LOCAL_SERIAL, fetch_size=5000,
                        paging_state=b"\x00\x03abc\xff", timestamp=1700000000123456,
                        keyspace="ks" if v5_like else None)
    full.query_params = [b"\x00\x00\x00\x2a", None] + ([_UNSET_VALUE] if unset_ok else [])
    out.append(("query_all_parameters", full))
    out.append(("query_each_consistency_all", QueryMessage("SELECT 1", ConsistencyLevel.ALL)))
    out.append(("query_local_one_serial", QueryMessage(
        "UPDATE t SET v = 1 WHERE k = 1 IF v = 0", ConsistencyLevel.LOCAL_ONE,
        serial_consistency_level=ConsistencyLevel.SERIAL)))
    out.append(("query_zero_timestamp", QueryMessage("INSERT INTO t (k) VALUES (1)",
                                                         ConsistencyLevel.ANY, timestamp=0)))
    unicode_query = QueryMessage("SELECT * FROM t WHERE name = 'caf\u00e9 \u2603'",
                                 ConsistencyLevel.TWO)
    unicode_query.query_params = []
    out.append(("query_unicode_empty_values", unicode_query))
    if dse:
        out.append(("query_continuous_paging", QueryMessage(
            "SELECT * FROM ks.big", ConsistencyLevel.LOCAL_ONE, fetch_size=1000,
            continuous_paging_options=paging(50, 10, 4))))
        out.append(("query_continuous_paging_unlimited", QueryMessage(
            "SELECT * FROM ks.big", ConsistencyLevel.ONE,
            continuous_paging_options=paging(0, 0, 1))))

    out.append(("prepare", PrepareMessage("SELECT * FROM ks.tbl WHERE k = ?")))
    if v5_like:
        out.append(("prepare_keyspace", PrepareMessage("SELECT * FROM tbl WHERE k = ?",
                                                       keyspace="ks")))

    metadata_id = b"\x5a\x5b\x5c" if ProtocolVersion.uses_prepared_metadata(version) else None
    out.append(("execute", ExecuteMessage(
        b"\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10",
        [b"\x00\x00\x00\x01", b"text", None] + ([_UNSET_VALUE] if unset_ok else []),
        ConsistencyLevel.QUORUM, serial_consistency_level=ConsistencyLevel.SERIAL,
        fetch_size=100, paging_state=b"\x01\x02", timestamp=42,
        result_metadata_id=metadata_id)))
    out.append(("execute_no_values", ExecuteMessage(b"\xaa\xbb", [], ConsistencyLevel.EACH_QUORUM,
                                                    result_metadata_id=metadata_id)))
    if dse:
        out.append(("execute_continuous_paging", ExecuteMessage(
            b"\xaa\xbb", [b"\x01"], ConsistencyLevel.ONE, fetch_size=200,
            continuous_paging_options=paging(3, 2, 5), result_metadata_id=metadata_id)))

    mixed = [
        (False, "INSERT INTO ks.tbl (k, v) VALUES (?, ?)", [b"\x00\x00\x00\x01", b"one"]),
        (True, b"\xde\xad\xbe\xef", [b"\x00\x00\x00\x02", None]),
        (False, "DELETE FROM ks.tbl WHERE k = 3", []),
    ]
    if unset_ok:
        mixed.append((True, b"\xca\xfe", [_UNSET_VALUE, b"\x07"]))
    out.append(("batch_logged_mixed", BatchMessage(
        BatchType.LOGGED, mixed, ConsistencyLevel.QUORUM,
        serial_consistency_level=ConsistencyLevel.LOCAL_SERIAL, timestamp=1600000000000000,
        keyspace="ks" if v5_like else None)))
    out.append(("batch_unlogged", BatchMessage(BatchType.UNLOGGED, mixed[:1], ConsistencyLevel.ONE)))
    out.append(("batch_counter", BatchMessage(
        BatchType.COUNTER, [(False, "UPDATE c SET n = n + 1 WHERE k = 1", [])],
        ConsistencyLevel.LOCAL_QUORUM)))

    out.append(("register", RegisterMessage(["TOPOLOGY_CHANGE", "STATUS_CHANGE", "SCHEMA_CHANGE"])))
    out.append(("auth_response", AuthResponseMessage(b"\x00cassandra\x00cassandra")))
    out.append(("auth_response_empty", AuthResponseMessage(b"")))

    if dse:
        out.append(("revise_cancel", ReviseRequestMessage(
            ReviseRequestMessage.RevisionType.PAGING_CANCEL, 17)))
    if version == ProtocolVersion.DSE_V2:
        out.append(("revise_more_pages", ReviseRequestMessage(
            ReviseRequestMessage.RevisionType.PAGING_BACKPRESSURE, 17, next_pages=6)))

    traced = QueryMessage("SELECT * FROM t", ConsistencyLevel.ONE)
    traced.tracing = True
    out.append(("query_tracing", traced))
    if version >= 4:
        with_payload = ExecuteMessage(b"\x01", [b"\x02"], ConsistencyLevel.ONE,
                                      result_metadata_id=metadata_id)
        with_payload.custom_payload = {"proxy-route": b"origin", "empty": b""}
        with_payload.tracing = True
        out.append(("execute_custom_payload_tracing", with_payload))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    records = []
    for version in VERSIONS:
        for i, (name, msg) in enumerate(build_messages(version)):
            stream = (i * 37 + version) % 32768
            frame = ProtocolHandler.encode_message(msg, stream, version, None, False)
            records.append({
                "name": name,
                "version": version,
                "stream": stream,
                "opcode": msg.opcode,
                "tracing": bool(msg.tracing),
                "custom_payload": ({k: v.hex() for k, v in msg.custom_payload.items()}
                                   if msg.custom_payload else None),
                "frame": frame.hex(),
                "fields": message_fields(msg, version),
            })
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "messages.json")
    with open(path, "w") as f:
        json.dump(records, f, indent=1)
    print("wrote %d request frames to %s" % (len(records), path))
    return 0


if __name__ == "__main__":
    sys.exit(main())
