#!/usr/bin/python3
"""Golden bytes for framing from the DataStax Python driver (run with /usr/bin/python3).

Writes <out>/framing.json with:
  segments: payloads encoded by the driver's SegmentCodec (cassandra/segment.py), without and with
            its LZ4 compressor: payload hex, segment stream hex, and how many segments it holds.
  frames:   v3/v4 QUERY frames from ProtocolHandler.encode_message with no compressor, the lz4
            compressor (4-byte big-endian length prefix) and snappy: uncompressed body hex and the
            whole frame's hex.
  lz4_library_version: the liblz4 the driver's compressor ran with (compressed bytes are only
            comparable byte for byte with the same library version).
  crc:      the driver's CRC24 (header) and CRC32 (payload) for a few inputs.
"""
import argparse
import io
import json
import os
import random

import lz4

from cassandra import ConsistencyLevel, ProtocolVersion
from cassandra.connection import locally_supported_compressions
from cassandra.protocol import ProtocolHandler, QueryMessage
from cassandra.segment import (CRC32_INITIAL, Segment, SegmentCodec, compute_crc24,
                               compute_crc32)

MAX = Segment.MAX_PAYLOAD_LENGTH


def frame(opcode, body, stream=5, version=5, response=False):
    """A v5 frame (header + body): what segments carry."""
    v = version | (0x80 if response else 0)
    return (bytes([v, 0]) + stream.to_bytes(2, 'big', signed=True) + bytes([opcode]) +
            len(body).to_bytes(4, 'big') + body)


def compressible(n, seed):
    words = [b'SELECT ', b'keyspace.table ', b'WHERE id = ', b'? AND ', b'value ']
    rng = random.Random(seed)
    out = bytearray()
    while len(out) < n:
        out += rng.choice(words)
    return bytes(out[:n])


def incompressible(n, seed):
    return random.Random(seed).randbytes(n)


def segment_cases():
    rng_body = incompressible
    cases = [
        ('empty', b''),
        ('small_query', frame(0x07, compressible(40, 1))),
        ('two_frames', frame(0x07, compressible(30, 2), stream=1) +
         frame(0x0A, compressible(50, 3), stream=2)),
        ('exact_max_compressible', frame(0x08, compressible(MAX - 9, 4), response=True)),
        ('exact_max_incompressible', frame(0x08, rng_body(MAX - 9, 5), response=True)),
        ('max_plus_one', frame(0x08, compressible(MAX - 8, 6), response=True)),
        ('large_compressible', frame(0x08, compressible(2 * MAX + 500, 7), response=True)),
        ('large_incompressible', frame(0x08, rng_body(2 * MAX + 17 - 9, 8), response=True)),
        ('small_incompressible', frame(0x07, rng_body(200, 9))),
    ]
    lz4_compress, lz4_decompress = locally_supported_compressions['lz4']
    codecs = [('none', SegmentCodec()), ('lz4', SegmentCodec(lz4_compress, lz4_decompress))]
    out = []
    for comp_name, codec in codecs:
        for name, payload in cases:
            buf = io.BytesIO()
            codec.encode(buf, payload)
            encoded = buf.getvalue()
            # Decode with the driver too, to record the segment count and self-containment.
            rd = io.BytesIO(encoded)
            segments = []
            while rd.tell() < len(encoded):
                header = codec.decode_header(rd)
                seg = codec.decode(rd, header)
                segments.append({'self_contained': bool(seg.is_self_contained),
                                 'payload_length': header.payload_length,
                                 'uncompressed_length': header.uncompressed_payload_length})
            out.append({'name': name, 'compression': comp_name, 'payload': payload.hex(),
                        'encoded': encoded.hex(), 'segments': segments})
    return out


def frame_cases():
    compressions = [('none', None)]
    for name in ('lz4', 'snappy'):
        compressions.append((name, locally_supported_compressions[name][0]))
    queries = [
        ('short', 'SELECT * FROM system.local'),
        ('long', ' '.join(['SELECT value FROM ks.tbl WHERE id = ?'] * 200)),
    ]
    out = []
    for version in (ProtocolVersion.V3, ProtocolVersion.V4):
        for qname, query in queries:
            msg = QueryMessage(query, ConsistencyLevel.LOCAL_QUORUM)
            plain = ProtocolHandler.encode_message(msg, 7, version, None, False)
            body = plain[9:]
            for cname, compressor in compressions:
                encoded = ProtocolHandler.encode_message(msg, 7, version, compressor, False)
                out.append({'name': f'v{version}_{qname}_{cname}', 'version': version,
                            'compression': cname, 'stream': 7, 'opcode': 0x07,
                            'body': body.hex(), 'encoded': encoded.hex()})
    return out


def crc_cases():
    out = []
    for bits, length in [(0, 3), (0x20010, 3), (0x1FFFF, 3), (0x3FFFF, 3), (0x123456789A, 5),
                         (0x400000001, 5), (0xFFFFFFFFFF, 5)]:
        out.append({'kind': 'crc24', 'bits': bits, 'length': length,
                    'crc': compute_crc24(bits, length)})
    for data in [b'', b'a', b'123456789', compressible(1000, 11), incompressible(777, 12)]:
        out.append({'kind': 'crc32', 'data': data.hex(), 'crc': compute_crc32(data, CRC32_INITIAL)})
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--out', required=True)
    args = parser.parse_args()
    doc = {'lz4_library_version': lz4.library_version_string(), 'segments': segment_cases(),
           'frames': frame_cases(), 'crc': crc_cases()}
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, 'framing.json'), 'w') as f:
        json.dump(doc, f)


if __name__ == '__main__':
    main()
