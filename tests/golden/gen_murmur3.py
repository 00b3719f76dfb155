#!/usr/bin/python3
"""Writes murmur3.json: Murmur3Partitioner hashes computed by the DataStax Python driver.

Keys are seeded-random bytes of lengths 0..100 (so every tail length 0..15 and bytes >= 0x80
occur), plus multi-column partition keys in the CompositeType encoding the driver builds routing
keys with. Run with /usr/bin/python3, where python3-cassandra is installed.
"""
import argparse
import json
import os
import random
import struct

try:
    from cassandra.cmurmur3 import murmur3
    IMPLEMENTATION = "cassandra.cmurmur3"
except ImportError:  # pure-Python fallback shipped with the driver
    from cassandra.murmur3 import murmur3
    IMPLEMENTATION = "cassandra.murmur3"


def composite(parts):
    # The driver's routing-key encoding for multi-column partition keys (metadata.py).
    return b"".join(struct.pack(">H%dsB" % len(p), len(p), p, 0) for p in parts)


def random_bytes(rng, n, high=False):
    if high:
        return bytes(rng.randrange(0x80, 0x100) for _ in range(n))
    return bytes(rng.randrange(0, 0x100) for _ in range(n))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    rng = random.Random(0x5EED_3A3)

    keys = []
    for i in range(2400):
        length = rng.randrange(0, 101)
        keys.append(random_bytes(rng, length, high=(i % 4 == 0)))
    for length in range(0, 40):  # every tail length, all-high and all-low bytes
        keys.append(bytes([0xFF]) * length)
        keys.append(bytes([0x80]) * length)
        keys.append(bytes([0x7F]) * length)
    keys.append(struct.pack(">i", 1))
    keys.append(b"hello")

    simple = [{"key": k.hex(), "hash": murmur3(k)} for k in keys]

    composites = []
    for _ in range(300):
        parts = [random_bytes(rng, rng.randrange(0, 24), high=rng.random() < 0.3)
                 for _ in range(rng.randrange(2, 5))]
        encoded = composite(parts)
        composites.append({
            "components": [p.hex() for p in parts],
            "encoded": encoded.hex(),
            "hash": murmur3(encoded),
        })

    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "murmur3.json"), "w") as f:
        json.dump({"implementation": IMPLEMENTATION, "keys": simple, "composites": composites}, f)


if __name__ == "__main__":
    main()
