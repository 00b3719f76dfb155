#!/usr/bin/env python3
"""Writes the seed corpus of the proxy_session fuzz target (tests/fuzz/corpus/proxy_session/).

Input format (see proxy_session_fuzz.cpp): one option byte, then chunks [u16 BE length][bytes],
each written to the session and run until idle before the next. Frames are built by hand with
tests/interop/cql_wire.py, v5 ones wrapped in uncompressed segments after the handshake.
Usage: tests/fuzz/make_proxy_session_corpus.py [OUT_DIR]
"""
import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "interop"))
from cql_wire import (EXECUTE, OPTIONS, PREPARE, QUERY, REGISTER, STARTUP, BATCH,  # noqa: E402
                      frame, long_string, query, query_params, segment, short_bytes, string,
                      string_map)

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__),
                                                           "corpus", "proxy_session")
ORIGIN_PREFIX, TARGET_PREFIX = 0x0A, 0x0B  # the stubs' prepared-id prefixes


def prepare(version, stream, cql):
    body = long_string(cql)
    if version >= 5:
        body += struct.pack(">I", 0)  # PREPARE flags (no keyspace)
    return frame(version, stream, PREPARE, body)


def prepared_id(cql, prefix=ORIGIN_PREFIX):
    return bytes([prefix, len(cql.encode()) & 0xFF, cql.encode()[0] if cql else 0])


def execute(version, stream, cql, values):
    body = short_bytes(prepared_id(cql))
    if version >= 5:
        body += short_bytes(b"\x01")  # result metadata id (the stubs answer 0x01)
    return frame(version, stream, EXECUTE, body + query_params(version, values=values))


def batch(version, stream, cql, values):
    body = struct.pack(">BH", 0, 2)  # LOGGED, two children
    body += b"\x00" + long_string("INSERT INTO ks.t (k) VALUES (1)") + struct.pack(">H", 0)
    body += b"\x01" + short_bytes(prepared_id(cql)) + struct.pack(">H", len(values))
    for v in values:
        body += struct.pack(">i", len(v)) + v
    body += struct.pack(">H", 1)
    body += struct.pack(">I", 0) if version >= 5 else b"\x00"
    return frame(version, stream, BATCH, body)


def register(version, stream):
    return frame(version, stream, REGISTER,
                 struct.pack(">H", 2) + string("SCHEMA_CHANGE") + string("TOPOLOGY_CHANGE"))


def chunks(option, parts):
    return bytes([option]) + b"".join(struct.pack(">H", len(p)) + p for p in parts)


def session(version, requests, option=0, compression=None):
    """Handshake (OPTIONS, STARTUP) then each request in its own chunk."""
    startup = {"CQL_VERSION": "3.0.0"}
    if compression:
        startup["COMPRESSION"] = compression
    parts = [frame(version, 0, OPTIONS), frame(version, 1, STARTUP, string_map(startup))]
    for r in requests:
        parts.append(segment(r) if version >= 5 else r)
    return chunks(option, parts)


def workload(version):
    insert = "INSERT INTO ks.t (k, v) VALUES (?, ?)"
    one = struct.pack(">i", 1)
    return [
        query(version, 2, "USE ks"),
        query(version, 3, "SELECT * FROM system.local"),
        query(version, 4, "SELECT peer, rpc_address FROM system.peers"),
        query(version, 5, "INSERT INTO ks.t (k, v) VALUES (1, 'a')"),
        query(version, 6, "SELECT * FROM ks.t WHERE k = ?", [one]),
        prepare(version, 7, insert),
        execute(version, 8, insert, [one, b"x"]),
        batch(version, 9, insert, [one, b"y"]),
        prepare(version, 10, "SELECT * FROM system.local WHERE key = ?"),
        register(version, 11),
        frame(version, 12, OPTIONS),
        query(version, 13, "UPDATE ks.t SET v = 'now' WHERE k = 1"),
        query(version, 14, "INSERT INTO ks.t (k, v) VALUES (now(), uuid())"),
    ]


def main():
    os.makedirs(OUT, exist_ok=True)
    seeds = {
        "v4_workload": session(4, workload(4)),
        "v4_workload_target_primary_async": session(4, workload(4), option=0b00011),
        "v4_clusters_v4_lz4": session(4, workload(4), option=0b00100, compression="lz4"),
        "v4_small_reads_now": session(4, workload(4), option=0b11000),
        "v5_workload": session(5, workload(5)),
        "v5_workload_async": session(5, workload(5), option=0b00010),
        "v3_workload": session(3, [query(3, 2, "SELECT * FROM ks.t")]),
        "options_only": chunks(0, [frame(4, 0, OPTIONS)]),
        # Malformed inputs.
        "garbage": chunks(0, [b"\xde\xad\xbe\xef" * 8]),
        "http": chunks(0, [b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"]),
        "version_7": chunks(0, [frame(7, 0, OPTIONS)]),
        "version_0": chunks(0, [frame(0, 0, OPTIONS)]),
        "huge_length": chunks(0, [struct.pack(">BBhBI", 4, 0, 0, QUERY, 0x7FFFFFFF)]),
        "negative_length": chunks(0, [struct.pack(">BBhBI", 4, 0, 0, QUERY, 0x80000000)]),
        "response_flag": chunks(0, [frame(0x84, 0, OPTIONS)]),
        "unknown_opcode": chunks(0, [frame(4, 0, 0x42)]),
        "truncated_body": chunks(0, [frame(4, 1, STARTUP, string_map({"CQL_VERSION": "3.0.0"}))[:-3]]),
        "startup_then_garbage": session(4, [b"\xff" * 40]),
        "v5_bad_crc": chunks(0, [frame(5, 0, OPTIONS),
                                 frame(5, 1, STARTUP, string_map({"CQL_VERSION": "3.0.0"})),
                                 segment(query(5, 2, "SELECT * FROM ks.t"), bad_crc=True)]),
        "bad_startup_body": chunks(0, [frame(4, 1, STARTUP, b"\x00\x05\x00")]),
        "execute_unknown_id": session(4, [frame(4, 2, EXECUTE, short_bytes(b"\x01\x02") +
                                                query_params(4))]),
        "many_streams": session(4, [b"".join(query(4, s, "SELECT * FROM ks.t")
                                            for s in range(100, 400))]),
        "negative_stream": session(4, [query(4, -5, "SELECT * FROM ks.t")]),
    }
    for name, data in seeds.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
    print("wrote %d seeds to %s" % (len(seeds), OUT))


if __name__ == "__main__":
    main()
