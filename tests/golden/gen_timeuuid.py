#!/usr/bin/python3
"""Writes timeuuid.json: version-1 uuids built by the DataStax driver's cassandra.util and read
back with Python's uuid module (timestamp ticks, clock sequence, node, Unix milliseconds), plus
the driver's min_uuid_from_time for the same milliseconds. Run with /usr/bin/python3.
"""
import argparse
import json
import os
import random

from cassandra import util

GREGORIAN_TO_UNIX_TICKS = 0x01B21DD213814000


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    rng = random.Random(1582)
    cases = []
    for _ in range(200):
        ms = rng.randrange(-10 ** 12, 4 * 10 ** 12)
        node = rng.randrange(1 << 48)
        seq = rng.randrange(1 << 14)
        u = util.uuid_from_time(ms / 1000.0, node=node, clock_seq=seq)
        cases.append({
            "uuid": str(u),
            "ticks": u.time,
            "clock_seq": u.clock_seq,
            "node": u.node,
            "unix_millis": (u.time - GREGORIAN_TO_UNIX_TICKS) // 10000,
            "version": u.version,
            "min_uuid_time_prefix": str(util.min_uuid_from_time(ms / 1000.0))[:18],
            "ms": ms,
        })
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "timeuuid.json"), "w") as f:
        json.dump({"cases": cases}, f)


if __name__ == "__main__":
    main()
