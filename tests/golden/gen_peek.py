#!/usr/bin/python3
"""Writes peek.json: request frames encoded by the DataStax Python driver
(ProtocolHandler.encode_message) with the fields our peek API must extract from them, for
protocol versions 3, 4, 5, DSE_V1 (0x41) and DSE_V2 (0x42). EXECUTE and BATCH cases also carry
the frame the driver encodes with replaced prepared ids, which replace_prepared_id must reproduce
byte for byte. Run with /usr/bin/python3, where python3-cassandra is installed.
"""
import argparse
import hashlib
import json
import os
import random

from cassandra import ConsistencyLevel, ProtocolVersion
from cassandra.cluster import ContinuousPagingOptions
from cassandra.protocol import (BatchMessage, ExecuteMessage, PrepareMessage, ProtocolHandler,
                                QueryMessage, RegisterMessage, _UNSET_VALUE)
from cassandra.query import BatchType

VERSIONS = [3, 4, 5, 0x41, 0x42]


def keyspace_ok(v):
    return ProtocolVersion.uses_keyspace_flag(v)


def encode(msg, v, stream=1):
    return ProtocolHandler.encode_message(msg, stream, v, None, False).hex()


def new_id(old):
    # Deterministic stand-in for the target cluster's id: a different length on purpose.
    return hashlib.md5(b"target" + old).digest() + b"\x01\x02"


class Gen:
    def __init__(self):
        self.rng = random.Random(0xC0FFEE)
        self.cases = []

    def rand(self, n):
        return bytes(self.rng.randrange(256) for _ in range(n))

    def values(self, v, n):
        out = []
        for i in range(n):
            r = self.rng.random()
            if r < 0.15:
                out.append(None)
            elif r < 0.3 and v >= 4:
                out.append(_UNSET_VALUE)
            else:
                out.append(self.rand(self.rng.randrange(0, 40)))
        return out

    def payload(self, v, msg):
        if v >= 4 and self.rng.random() < 0.5:
            msg.custom_payload = {"k1": b"v1", "key-two": self.rand(5)}
            return True
        return False

    def add(self, name, v, msg, expect, replace=None):
        case = {"name": "%s/v0x%02x" % (name, v), "version": v, "frame": encode(msg, v),
                "expect": expect}
        if replace:
            case["replace"] = replace
        self.cases.append(case)

    def query_cases(self, v):
        # Minimal.
        msg = QueryMessage("SELECT * FROM system.local", ConsistencyLevel.ONE)
        self.add("query-minimal", v, msg, {"query": "SELECT * FROM system.local", "consistency": 1,
                                           "value_count": 0})
        # Everything the driver can put in a QUERY for this version.
        for i in range(3):
            ks = "ks_%d" % i if keyspace_ok(v) else None
            cp = None
            if ProtocolVersion.has_continuous_paging_support(v) and i == 2:
                cp = ContinuousPagingOptions(max_pages=5, max_pages_per_second=10, max_queue_size=3)
            paging = self.rand(self.rng.randrange(1, 30))
            ts = self.rng.randrange(1, 2 ** 62)
            q = "SELECT v FROM t%d WHERE k = 'x''y' -- %d" % (i, i)
            msg = QueryMessage(q, ConsistencyLevel.LOCAL_QUORUM,
                               serial_consistency_level=ConsistencyLevel.LOCAL_SERIAL,
                               fetch_size=100 * (i + 1), paging_state=paging, timestamp=ts,
                               continuous_paging_options=cp, keyspace=ks)
            self.payload(v, msg)
            self.add("query-full-%d" % i, v, msg, {
                "query": q, "consistency": ConsistencyLevel.LOCAL_QUORUM, "value_count": 0,
                "page_size": 100 * (i + 1), "paging_state": paging.hex(),
                "serial_consistency": ConsistencyLevel.LOCAL_SERIAL, "timestamp": ts,
                "keyspace": ks, "continuous_paging": cp is not None})

    def execute_cases(self, v):
        for i in range(4):
            qid = self.rand(16)
            md = self.rand(16) if ProtocolVersion.uses_prepared_metadata(v) else None
            vals = self.values(v, self.rng.randrange(0, 8))
            fetch = 5000 if i % 2 == 0 else None
            paging = self.rand(12) if i == 2 else None
            ts = 1700000000000000 + i if i != 1 else None
            serial = ConsistencyLevel.SERIAL if i == 3 else None
            kwargs = dict(serial_consistency_level=serial, fetch_size=fetch, paging_state=paging,
                          timestamp=ts, skip_meta=(i % 2 == 1), result_metadata_id=md)
            msg = ExecuteMessage(qid, vals, ConsistencyLevel.QUORUM, **kwargs)
            ks = None
            if keyspace_ok(v) and i >= 2:
                ks = "exec_ks"
                msg.keyspace = ks  # the driver's encoder writes it with flag 0x80
            has_payload = self.payload(v, msg)
            # The same message with the target's id, encoded by the driver.
            twin = ExecuteMessage(new_id(qid), vals, ConsistencyLevel.QUORUM, **kwargs)
            twin.keyspace = ks
            twin.custom_payload = msg.custom_payload
            self.add("execute-%d" % i, v, msg, {
                "prepared_id": qid.hex(), "result_metadata_id": md.hex() if md else None,
                "consistency": ConsistencyLevel.QUORUM, "value_count": len(vals),
                "page_size": fetch, "paging_state": paging.hex() if paging else None,
                "serial_consistency": serial, "timestamp": ts, "keyspace": ks,
                "custom_payload": has_payload},
                replace={"map": {qid.hex(): new_id(qid).hex()}, "frame": encode(twin, v)})

    def prepare_cases(self, v):
        msg = PrepareMessage("SELECT * FROM t WHERE k = ?")
        self.add("prepare-plain", v, msg, {"query": "SELECT * FROM t WHERE k = ?", "keyspace": None})
        if keyspace_ok(v):
            msg = PrepareMessage("INSERT INTO t (k) VALUES (?)", keyspace="prep_ks")
            self.add("prepare-keyspace", v, msg, {"query": "INSERT INTO t (k) VALUES (?)",
                                                  "keyspace": "prep_ks"})

    def batch_cases(self, v):
        for i, btype in enumerate([BatchType.LOGGED, BatchType.UNLOGGED, BatchType.COUNTER]):
            children = []
            expect_children = []
            for j in range(self.rng.randrange(1, 6)):
                vals = self.values(v, self.rng.randrange(0, 5))
                if self.rng.random() < 0.5:
                    qid = self.rand(16)
                    children.append((True, qid, vals))
                    expect_children.append({"kind": 1, "prepared_id": qid.hex(),
                                            "value_count": len(vals)})
                else:
                    q = "UPDATE t SET v = ? WHERE k = %d" % j
                    children.append((False, q, vals))
                    expect_children.append({"kind": 0, "query": q, "value_count": len(vals)})
            serial = ConsistencyLevel.LOCAL_SERIAL if i == 1 else None
            ts = 123456789 + i if i != 2 else None
            ks = "batch_ks" if keyspace_ok(v) and i >= 1 else None
            msg = BatchMessage(btype, children, ConsistencyLevel.EACH_QUORUM,
                               serial_consistency_level=serial, timestamp=ts, keyspace=ks)
            self.payload(v, msg)
            twin_children = [(p, new_id(s) if p else s, vals) for p, s, vals in children]
            twin = BatchMessage(btype, twin_children, ConsistencyLevel.EACH_QUORUM,
                                serial_consistency_level=serial, timestamp=ts, keyspace=ks)
            twin.custom_payload = msg.custom_payload
            mapping = {s.hex(): new_id(s).hex() for p, s, _ in children if p}
            self.add("batch-%d" % i, v, msg, {
                "batch_type": btype.value, "children": expect_children,
                "consistency": ConsistencyLevel.EACH_QUORUM, "serial_consistency": serial,
                "timestamp": ts, "keyspace": ks},
                replace={"map": mapping, "frame": encode(twin, v)})

    def register_cases(self, v):
        events = ["TOPOLOGY_CHANGE", "STATUS_CHANGE", "SCHEMA_CHANGE"]
        msg = RegisterMessage(events)
        self.add("register", v, msg, {"events": events})


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    gen = Gen()
    for v in VERSIONS:
        gen.query_cases(v)
        gen.execute_cases(v)
        gen.prepare_cases(v)
        gen.batch_cases(v)
        gen.register_cases(v)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "peek.json"), "w") as f:
        json.dump({"cases": gen.cases}, f, indent=1)


if __name__ == "__main__":
    main()
