"""Raw CQL native protocol bytes, for tests that must send what no driver sends (malformed input,
statements before authentication, refused versions) and for the proxy_session fuzz corpus
(tests/fuzz/make_proxy_session_corpus.py). Written from the protocol specs: v3/v4 frame headers,
[string] / [long string] / [short bytes] / [string map], QUERY parameters, and v5 segments
(3-byte header with its CRC24, payload with its CRC32)."""
import collections
import struct
import zlib

HEADER = struct.Struct(">BBhBI")  # version, flags, stream, opcode, body length (unsigned: tests
#                                   write absurd lengths such as 0x80000000)
ERROR, STARTUP, READY, AUTHENTICATE, OPTIONS, SUPPORTED, QUERY, RESULT = (
    0x00, 0x01, 0x02, 0x03, 0x05, 0x06, 0x07, 0x08)
PREPARE, EXECUTE, REGISTER, EVENT, BATCH, AUTH_CHALLENGE, AUTH_RESPONSE, AUTH_SUCCESS = (
    0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F, 0x10)

Frame = collections.namedtuple("Frame", "version flags stream opcode body")


def frame(version, stream, opcode, body=b"", flags=0):
    return HEADER.pack(version, flags, stream, opcode, len(body)) + body


def string(s):
    b = s.encode()
    return struct.pack(">H", len(b)) + b


def long_string(s):
    b = s.encode()
    return struct.pack(">i", len(b)) + b


def short_bytes(b):
    return struct.pack(">H", len(b)) + b


def string_map(m):
    return struct.pack(">H", len(m)) + b"".join(string(k) + string(v) for k, v in m.items())


def query_params(version, consistency=1, values=None):
    """Consistency, flags (an int from v5 on, a byte before), then the values if any."""
    flags = 0x01 if values is not None else 0
    out = struct.pack(">H", consistency)
    out += struct.pack(">I", flags) if version >= 5 else struct.pack(">B", flags)
    if values is not None:
        out += struct.pack(">H", len(values))
        for v in values:
            out += struct.pack(">i", len(v)) + v
    return out


def query(version, stream, cql, values=None):
    return frame(version, stream, QUERY, long_string(cql) + query_params(version, values=values))


def startup(version, stream=1, options=None):
    return frame(version, stream, STARTUP, string_map(options or {"CQL_VERSION": "3.0.0"}))


def crc24(data):
    crc = 0x875060
    for byte in data:
        crc ^= byte << 16
        for _ in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= 0x1974F0B
    return crc & 0xFFFFFF


def segment(payload, bad_crc=False):
    """An uncompressed, self-contained v5 segment (bad_crc: its payload CRC32 is wrong)."""
    header = (len(payload) | (1 << 17)).to_bytes(3, "little")
    crc = zlib.crc32(payload, zlib.crc32(b"\xfa\x2d\x55\xca"))
    if bad_crc:
        crc ^= 1
    return header + crc24(header).to_bytes(3, "little") + payload + crc.to_bytes(4, "little")


def read_frame(sock):
    """The next v3/v4 frame from a socket, as a Frame; ConnectionError when it closes first."""
    def exact(n):
        data = b""
        while len(data) < n:
            chunk = sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError("closed after %d of %d bytes" % (len(data), n))
            data += chunk
        return data
    version, flags, stream, opcode, length = HEADER.unpack(exact(HEADER.size))
    return Frame(version, flags, stream, opcode, exact(length))
