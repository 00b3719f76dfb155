#!/usr/bin/python3
"""Golden CQL value bytes from the DataStax Python driver (cassandra.cqltypes).

Writes <out>/values.json: a list of cases, each
  {"version": 3|4|5, "class": marshal class name, "cql": CQL type text,
   "hex": value bytes, "canonical": the value as a CQL literal, "source": "driver"|...}
The bytes come from cqltypes.lookup_casstype(class).serialize(value, version), except:
  - "manual": zero-length ("empty") values, which the driver never produces from a value;
  - "driver-elements": vectors, which this driver version (3.25) cannot serialize; their element
    bytes come from the driver and only the framing (concatenation, or an unsigned vint length
    before each variable-size element, as Cassandra's VectorType writes) is composed here.
The canonical text follows zdm's to_cql_literal rules (see src/protocol/value.hpp).
Run with /usr/bin/python3 (where the driver is installed): gen_values.py --out DIR
"""

import argparse
import datetime
import decimal
import json
import math
import os
import random
import socket
import struct
import uuid

from cassandra import cqltypes, util

PREFIX = "org.apache.cassandra.db.marshal."

NATIVE = {
    # cql name: marshal class
    "ascii": "AsciiType", "bigint": "LongType", "blob": "BytesType", "boolean": "BooleanType",
    "counter": "CounterColumnType", "date": "SimpleDateType", "decimal": "DecimalType",
    "double": "DoubleType", "duration": "DurationType", "float": "FloatType",
    "inet": "InetAddressType", "int": "Int32Type", "smallint": "ShortType", "text": "UTF8Type",
    "time": "TimeType", "timestamp": "TimestampType", "timeuuid": "TimeUUIDType",
    "tinyint": "ByteType", "uuid": "UUIDType", "varint": "IntegerType",
}
# Element sizes Cassandra's VectorType treats as fixed (AbstractType.valueLengthIfFixed).
FIXED_SIZE = {"boolean": 1, "int": 4, "float": 4, "bigint": 8, "double": 8, "timestamp": 8,
              "uuid": 16, "timeuuid": 16}

rng = random.Random(0x5EED_CA55)


# ---- types: ("int",), ("list", T), ("set", T), ("map", K, V), ("tuple", [T...]),
#             ("udt", ks, name, [(field, T)...]), ("vector", T, n), ("custom", class)

def is_frozen_when_nested(t):
    return t[0] in ("list", "set", "map", "udt")


def marshal(t, nested=False):
    kind = t[0]
    if kind in NATIVE:
        return PREFIX + NATIVE[kind]
    if kind == "custom":
        return t[1]
    if kind == "vector":
        return "%sVectorType(%s , %d)" % (PREFIX, marshal(t[1], True), t[2])
    if kind in ("list", "set"):
        inner = "%s%s(%s)" % (PREFIX, "ListType" if kind == "list" else "SetType", marshal(t[1], True))
    elif kind == "map":
        inner = "%sMapType(%s,%s)" % (PREFIX, marshal(t[1], True), marshal(t[2], True))
    elif kind == "tuple":
        inner = "%sTupleType(%s)" % (PREFIX, ",".join(marshal(e, True) for e in t[1]))
    elif kind == "udt":
        fields = ",".join("%s:%s" % (f.encode().hex(), marshal(ft, True)) for f, ft in t[3])
        inner = "%sUserType(%s,%s,%s)" % (PREFIX, t[1], t[2].encode().hex(), fields)
    else:
        raise ValueError(kind)
    if nested and is_frozen_when_nested(t):
        return "%sFrozenType(%s)" % (PREFIX, inner)
    return inner


def cql(t):
    kind = t[0]
    if kind in NATIVE:
        return kind
    if kind == "custom":
        return "'%s'" % t[1].replace("'", "''")
    if kind == "vector":
        return "vector<%s, %d>" % (cql(t[1]), t[2])
    if kind in ("list", "set"):
        return "frozen<%s<%s>>" % (kind, cql(t[1]))
    if kind == "map":
        return "frozen<map<%s, %s>>" % (cql(t[1]), cql(t[2]))
    if kind == "tuple":
        return "frozen<tuple<%s>>" % ", ".join(cql(e) for e in t[1])
    if kind == "udt":
        return "frozen<%s.%s>" % (t[1], t[2])
    raise ValueError(kind)


# ---- canonical CQL literals ----------------------------------------------------------------

def float_text(v):
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "-Infinity" if v < 0 else "Infinity"
    return repr(v)


def float32_text(v):
    v = struct.unpack(">f", struct.pack(">f", v))[0]
    if math.isnan(v) or math.isinf(v):
        return float_text(v)
    for p in range(1, 10):
        s = "%.*e" % (p - 1, v)
        try:
            if struct.unpack(">f", struct.pack(">f", float(s)))[0] == v:
                return repr(float(s))
        except OverflowError:  # rounded past the largest float
            continue
    return repr(v)


def quote(s, q="'"):
    return q + s.replace(q, q + q) + q


def field_name(f):
    if f and f[0].islower() and all(c.islower() or c.isdigit() or c == "_" for c in f) and f.isascii():
        return f
    return quote(f, '"')


def decimal_text(d):
    sign, digits, exponent = d.as_tuple()
    unscaled = int("".join(map(str, digits)) or "0") * (-1 if sign else 1)
    scale = -exponent
    if scale == 0:
        return str(unscaled)
    if scale < 0 or scale > 100:  # exponent form, as zdm writes it
        return "%dE%d" % (unscaled, -scale)
    mag = str(abs(unscaled)).rjust(scale + 1, "0")
    return ("-" if unscaled < 0 else "") + mag[:-scale] + "." + mag[-scale:]


def date_text(raw):
    try:
        d = datetime.date(1970, 1, 1) + datetime.timedelta(days=raw - 2 ** 31)
        return "'%04d-%02d-%02d'" % (d.year, d.month, d.day)
    except OverflowError:
        return "'%d'" % raw


def time_text(n):
    s = n // 10 ** 9
    return "'%02d:%02d:%02d.%09d'" % (s // 3600, s // 60 % 60, s % 60, n % 10 ** 9)


def duration_text(d):
    neg = d.months < 0 or d.days < 0 or d.nanoseconds < 0
    out = "-" if neg else ""
    if d.months:
        out += "%dmo" % abs(d.months)
    if d.days:
        out += "%dd" % abs(d.days)
    if d.nanoseconds or (not d.months and not d.days):
        out += "%dns" % abs(d.nanoseconds)
    return out


def inet_text(addr):
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    return quote(socket.inet_ntop(family, socket.inet_pton(family, addr)))


def literal(t, v):
    if v is None:
        return "null"
    kind = t[0]
    if kind in ("ascii", "text"):
        return quote(v)
    if kind in ("blob", "custom"):
        return "0x" + bytes(v).hex()
    if kind == "boolean":
        return "true" if v else "false"
    if kind in ("bigint", "counter", "int", "smallint", "tinyint", "timestamp", "varint"):
        return str(v)
    if kind == "date":
        return date_text(v)
    if kind == "time":
        return time_text(v)
    if kind == "decimal":
        return decimal_text(v)
    if kind == "double":
        return float_text(v)
    if kind == "float":
        return float32_text(v)
    if kind == "duration":
        return duration_text(v)
    if kind == "inet":
        return inet_text(v)
    if kind in ("uuid", "timeuuid"):
        return str(v)
    if kind in ("list", "vector"):
        return "[" + ", ".join(literal(t[1], e) for e in v) + "]"
    if kind == "set":
        return "{" + ", ".join(literal(t[1], e) for e in v) + "}"
    if kind == "map":
        return "{" + ", ".join("%s: %s" % (literal(t[1], k), literal(t[2], x)) for k, x in v.items()) + "}"
    if kind == "tuple":
        padded = list(v) + [None] * (len(t[1]) - len(v))
        return "(" + ", ".join(literal(et, e) for et, e in zip(t[1], padded)) + ")"
    if kind == "udt":
        padded = list(v) + [None] * (len(t[3]) - len(v))
        return "{" + ", ".join("%s: %s" % (field_name(f), literal(ft, e))
                               for (f, ft), e in zip(t[3], padded)) + "}"
    raise ValueError(kind)


# ---- serialization -------------------------------------------------------------------------

def unsigned_vint(n):
    # Cassandra VIntCoding: leading one bits of the first byte count the extra bytes.
    if n < 0x80:
        return bytes([n])
    extra = 1
    while extra < 8 and n >= 1 << (7 * (extra + 1)):
        extra += 1
    raw = n.to_bytes(extra + 1, "big")
    return bytes([raw[0] | (0xFF << (8 - extra)) & 0xFF]) + raw[1:]


def fixed_size(t):
    if t[0] in FIXED_SIZE:
        return FIXED_SIZE[t[0]]
    if t[0] == "vector":
        inner = fixed_size(t[1])
        return None if inner is None else inner * t[2]
    return None


def serialize(t, v, version):
    if t[0] == "vector":
        parts = []
        for e in v:
            b = serialize(t[1], e, version)
            parts.append(b if fixed_size(t[1]) is not None else unsigned_vint(len(b)) + b)
        return b"".join(parts)
    return cqltypes.lookup_casstype(marshal(t)).serialize(v, version)


# ---- values --------------------------------------------------------------------------------

def time_uuid():
    node = rng.getrandbits(48)
    return uuid.UUID(fields=(rng.getrandbits(32), rng.getrandbits(16), 0x1000 | rng.getrandbits(12),
                             0x80 | rng.getrandbits(6), rng.getrandbits(8), node))


def native_values(kind):
    if kind == "ascii":
        return ["", "hello", "it's", "".join(chr(rng.randrange(32, 127)) for _ in range(20))]
    if kind == "text":
        return ["", "h\u00e9llo w\u00f6rld", "\u65e5\u672c\u8a9e", "emoji \U0001F600", "a'b''c"]
    if kind == "blob":
        return [b"", b"\x00\xff", bytes(rng.getrandbits(8) for _ in range(17))]
    if kind == "custom":
        return [b"\x01\x02\x03", b""]
    if kind == "boolean":
        return [True, False]
    if kind in ("bigint", "counter"):
        return [0, 1, -1, 2 ** 63 - 1, -2 ** 63, rng.getrandbits(63) - 2 ** 62]
    if kind == "int":
        return [0, -1, 2 ** 31 - 1, -2 ** 31, rng.getrandbits(31) - 2 ** 30]
    if kind == "smallint":
        return [0, -1, 32767, -32768, 300]
    if kind == "tinyint":
        return [0, -1, 127, -128, 42]
    if kind == "timestamp":
        return [0, 1700000000123, -86400000, 2 ** 63 - 1]
    if kind == "date":
        # 0001-01-01 and 9999-12-31 are the ends of the 'YYYY-MM-DD' form; beyond, raw digits.
        return [0, 2 ** 32 - 1, 2 ** 31, 2 ** 31 - 1, 2 ** 31 + 19000, 2 ** 31 - 719162,
                2 ** 31 - 719163, 2 ** 31 + 2932896, 2 ** 31 + 2932897]
    if kind == "time":
        return [0, 1, 86399999999999, 45296789012345]
    if kind == "varint":
        return [0, 1, -1, 127, 128, 129, -128, -129, 255, -256, 2 ** 64, -2 ** 127,
                12345678901234567890123456789, rng.getrandbits(200) - 2 ** 199]
    if kind == "decimal":
        return [decimal.Decimal(s) for s in
                ("0", "123.45", "-0.0005", "7E+3", "-1.5E+10", "3.14159265358979323846264338327950288",
                 "1E-40", "-128", "0.00", "1E-100", "-7E-101", "12E-150")]
    if kind == "double":
        return [0.0, -0.0, 1.5, 0.1, -1e300, 5e-324, 1e16, 123456.0, float("nan"), float("inf"),
                float("-inf"), rng.uniform(-1e6, 1e6)]
    if kind == "float":
        return [0.0, 1.5, 0.1, -3.4028234663852886e38, 1.401298464324817e-45, float("nan"),
                float("-inf"), rng.uniform(-100, 100)]
    if kind == "duration":
        return [util.Duration(0, 0, 0), util.Duration(1, 2, 3), util.Duration(-1, 0, -3),
                util.Duration(2 ** 31 - 1, 2 ** 31 - 1, 2 ** 63 - 1),
                util.Duration(-2 ** 31, -2 ** 31, -2 ** 63), util.Duration(14, 0, 3600 * 10 ** 9)]
    if kind == "inet":
        return ["127.0.0.1", "0.0.0.0", "255.255.255.255", "::1", "2001:db8::ff00:42:8329",
                "::ffff:10.0.0.1", "fe80::1"]
    if kind == "uuid":
        return [uuid.UUID(int=0), uuid.UUID(int=rng.getrandbits(128)),
                uuid.UUID(int=rng.getrandbits(128))]
    if kind == "timeuuid":
        return [time_uuid(), time_uuid()]
    raise ValueError(kind)


def random_value(t, depth=0):
    kind = t[0]
    if kind in NATIVE or kind == "custom":
        vals = native_values(kind)
        v = rng.choice(vals)
        if v == b"" or v == "":  # keep nested elements non-empty to avoid ambiguity
            v = vals[1]
        return v
    n = rng.randrange(0, 4)
    if kind == "list":
        return [random_value(t[1], depth + 1) for _ in range(n)]
    if kind == "set":
        out = []
        for _ in range(n):
            e = random_value(t[1], depth + 1)
            if all(repr(e) != repr(x) for x in out):
                out.append(e)
        return out
    if kind == "map":
        out = {}
        for _ in range(n):
            out[random_value(t[1], depth + 1)] = random_value(t[2], depth + 1)
        return out
    if kind == "tuple":
        return tuple(None if rng.random() < 0.2 else random_value(e, depth + 1) for e in t[1])
    if kind == "udt":
        return tuple(None if rng.random() < 0.2 else random_value(ft, depth + 1) for _, ft in t[3])
    if kind == "vector":
        return [random_value(t[1], depth + 1) for _ in range(t[2])]
    raise ValueError(kind)


ADDRESS = ("udt", "ks", "address", [("street", ("text",)), ("zip", ("int",)),
                                     ("Label", ("ascii",))])
POINT = ("udt", "geo", "point", [("x", ("double",)), ("y", ("double",)),
                                  ("tags", ("set", ("text",)))])
COMPOSITE_TYPES = [
    ("list", ("int",)), ("list", ("text",)), ("set", ("uuid",)), ("set", ("varint",)),
    ("map", ("text",), ("int",)), ("map", ("int",), ("list", ("text",))),
    ("map", ("text",), ("map", ("int",), ("set", ("bigint",)))),
    ("list", ("list", ("list", ("smallint",)))), ("set", ("tuple", [("int",), ("text",)])),
    ("tuple", [("int",), ("text",), ("list", ("int",))]),
    ("tuple", [("decimal",), ("duration",), ("inet",), ("date",), ("time",)]),
    ("tuple", [("tuple", [("tinyint",), ("blob",)]), ("boolean",)]),
    ADDRESS, POINT, ("list", ADDRESS), ("map", ("text",), POINT),
]
VECTOR_TYPES = [
    ("vector", ("float",), 3), ("vector", ("float",), 1), ("vector", ("double",), 4),
    ("vector", ("int",), 2), ("vector", ("bigint",), 2), ("vector", ("uuid",), 2),
    ("vector", ("boolean",), 3), ("vector", ("text",), 3), ("vector", ("smallint",), 2),
    ("vector", ("varint",), 2), ("vector", ("list", ("int",)), 2),
    ("vector", ("vector", ("float",), 2), 2), ("vector", ("vector", ("text",), 2), 2),
]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    cases = []

    def add(t, v, version, source="driver", hex_override=None):
        data = hex_override if hex_override is not None else serialize(t, v, version).hex()
        cases.append({"version": version, "class": marshal(t), "cql": cql(t), "hex": data,
                      "canonical": literal(t, v), "source": source})

    for version in (3, 4, 5):
        for kind in NATIVE:
            for v in native_values(kind):
                add((kind,), v, version)
        for v in native_values("custom"):
            add(("custom", "com.example.GeoType"), v, version)
        for t in COMPOSITE_TYPES:
            for _ in range(4):
                add(t, random_value(t), version)
        # Empty collections and tuples/UDTs with every field null.
        add(("list", ("int",)), [], version)
        add(("map", ("text",), ("int",)), {}, version)
        add(ADDRESS, (None, None, None), version)
        # UDTs written by an older schema: trailing fields missing from the bytes.
        # (No field at all is zero bytes, which the driver cannot express as a type.)
        for keep in (0, 1, 2):
            short = ADDRESS[:3] + (ADDRESS[3][:keep],)
            value = tuple(random_value(ft) for _, ft in ADDRESS[3][:keep])
            data = serialize(short, value, version).hex() if keep else ""
            cases.append({"version": version, "class": marshal(ADDRESS), "cql": cql(ADDRESS),
                          "hex": data, "canonical": literal(ADDRESS, value),
                          "source": "driver-short-udt" if keep else "manual"})
        for t in VECTOR_TYPES:
            for _ in range(3):
                add(t, random_value(t), version, source="driver-elements")
        # Zero-length values: Cassandra's legacy "empty" for non-string types.
        for kind in ("int", "bigint", "boolean", "uuid", "decimal", "varint", "inet", "date",
                     "timestamp", "double"):
            cases.append({"version": version, "class": marshal((kind,)), "cql": kind, "hex": "",
                          "canonical": "blobAs%s(0x)" % kind.capitalize(), "source": "manual"})

    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "values.json"), "w") as f:
        json.dump({"generator": "cassandra-driver " + __import__("cassandra").__version__,
                   "cases": cases}, f, indent=1)
    print("wrote %d cases" % len(cases))


if __name__ == "__main__":
    main()
