"""Malformed client input through raw sockets: the proxy answers a PROTOCOL_ERROR where the
protocol allows one (stream 0 when the frame header itself is unusable, as Cassandra does and
gocql needs), closes the connection, and keeps serving everyone else. Frames are built by hand
with tests/interop/cql_wire.py (v4 frames, v5 segments)."""
import socket
import struct
import time

import pytest

from conftest import connect
from cql_wire import (ERROR, HEADER, OPTIONS, QUERY, READY, RESULT, frame, query, segment,
                      startup)

PROTOCOL_ERROR, OVERLOADED = 0x000A, 0x1001


class Conn:
    """A raw client connection that parses what the proxy sends (frames, or v5 segments)."""

    def __init__(self, proxy):
        self.sock = socket.create_connection((proxy.host, proxy.port), timeout=10)
        self.buf = b""
        self.segments = False
        self.closed = False

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self, deadline):
        self.sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            return False
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            self.closed = True
            return False
        self.buf += chunk
        return True

    def _take_frame(self, data):
        """(frame, rest) from the front of data, or (None, data)."""
        if len(data) < HEADER.size:
            return None, data
        version, flags, stream, opcode, length = HEADER.unpack(data[:HEADER.size])
        if len(data) < HEADER.size + length:
            return None, data
        body = data[HEADER.size:HEADER.size + length]
        return (version, stream, opcode, body), data[HEADER.size + length:]

    def _take(self):
        if not self.segments:
            f, self.buf = self._take_frame(self.buf)
            return f
        if len(self.buf) < 6:
            return None
        length = int.from_bytes(self.buf[:3], "little") & 0x1FFFF
        if len(self.buf) < 6 + length + 4:
            return None
        payload = self.buf[6:6 + length]
        self.buf = self.buf[6 + length + 4:]
        f, rest = self._take_frame(payload)
        assert f is not None and not rest, "expected one whole frame per segment"
        return f

    def read(self, timeout=10.0):
        """The next frame (version, stream, opcode, body), or None when the proxy closed."""
        deadline = time.monotonic() + timeout
        while True:
            f = self._take()
            if f is not None:
                return f
            if self.closed:
                return None
            if not self._fill(deadline):
                if self.closed:
                    continue
                raise AssertionError("no frame and no close within %.0fs" % timeout)

    def expect_closed(self, timeout=10.0):
        """Reads until the proxy closes; returns the frames that came before."""
        frames = []
        while True:
            f = self.read(timeout)
            if f is None:
                return frames
            frames.append(f)

    def handshake(self, version=4):
        self.send(startup(version))
        v, stream, opcode, body = self.read()
        assert (stream, opcode) == (1, READY), body
        if version >= 5:
            self.segments = True

    def close(self):
        self.sock.close()


def error_of(f):
    version, stream, opcode, body = f
    assert opcode == ERROR, "expected an ERROR frame, got opcode %d" % opcode
    code = struct.unpack(">i", body[:4])[0]
    n = struct.unpack(">H", body[4:6])[0]
    return stream, code, body[6:6 + n].decode(errors="replace")


@pytest.fixture
def check_alive(proxy):
    """After each case: the process runs, is live, and a fresh raw handshake still works."""
    yield
    assert proxy.proc.poll() is None, "the proxy died:\n" + proxy.output[-3000:]
    assert proxy.http("/health/liveness")[0] == 200
    c = Conn(proxy)
    try:
        c.handshake()
        c.send(query(4, 2, "SELECT key FROM system.local"))
        assert c.read()[1:3] == (2, RESULT)
    finally:
        c.close()


def expect_protocol_error_then_close(conn, stream=0, contains=None):
    frames = conn.expect_closed()
    assert len(frames) == 1, "expected one ERROR then close, got %r" % (frames,)
    got_stream, code, message = error_of(frames[0])
    assert code == PROTOCOL_ERROR, message
    assert got_stream == stream, message
    if contains:
        assert contains.lower() in message.lower(), message
    return message


# Each case: bytes sent on a fresh connection, the stream the PROTOCOL_ERROR must come on, and a
# word of its message.
BAD_HEADERS = {
    "garbage": (b"\xde\xad\xbe\xef" * 8, "version"),
    "http_request": (b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n", "version"),
    "version_7": (frame(0x07, 3, OPTIONS), "version"),
    "version_0": (frame(0x00, 3, OPTIONS), "version"),
    "version_2": (bytes([0x02, 0, 3, OPTIONS, 0, 0, 0, 0]), "version"),
    "body_length_2^31-1": (HEADER.pack(4, 0, 3, QUERY, 0x7FFFFFFF), "length"),
    "body_length_negative": (HEADER.pack(4, 0, 3, QUERY, 0x80000000), "length"),
    "body_length_over_limit": (HEADER.pack(4, 0, 3, QUERY, 256 * 1024 * 1024 + 1),
                               "length"),
    "unknown_opcode": (frame(4, 3, 0x42), "opcode"),
}


@pytest.mark.parametrize("name", sorted(BAD_HEADERS))
def test_bad_header_gets_protocol_error_on_stream_0_then_close(proxy, check_alive, name):
    data, word = BAD_HEADERS[name]
    c = Conn(proxy)
    try:
        c.send(data)
        expect_protocol_error_then_close(c, stream=0, contains=word)
    finally:
        c.close()


def test_unknown_version_error_is_in_a_version_the_driver_can_read(proxy, check_alive):
    c = Conn(proxy)
    try:
        c.send(frame(0x06, 9, OPTIONS))
        frames = c.expect_closed()
        assert len(frames) == 1
        version = frames[0][0]
        assert version & 0x80, "a response frame"
        assert (version & 0x7F) in (3, 4, 5)
    finally:
        c.close()


def test_response_direction_flag_gets_protocol_error_then_close(proxy, check_alive):
    c = Conn(proxy)
    try:
        c.send(frame(0x84, 7, OPTIONS))
        expect_protocol_error_then_close(c, stream=7, contains="request")
    finally:
        c.close()


@pytest.mark.parametrize("cut", [1, 3, 4, 8])
def test_truncated_header_then_close_is_closed_cleanly(proxy, check_alive, cut):
    c = Conn(proxy)
    try:
        c.send(frame(4, 0, OPTIONS)[:cut])
        c.sock.shutdown(socket.SHUT_WR)
        assert c.expect_closed() == []
    finally:
        c.close()


@pytest.mark.parametrize("ready", [False, True])
def test_truncated_body_then_close_is_closed_cleanly(proxy, check_alive, ready):
    c = Conn(proxy)
    try:
        if ready:
            c.handshake()
        c.send(query(4, 5, "SELECT key FROM system.local")[:20])
        c.sock.shutdown(socket.SHUT_WR)
        assert c.expect_closed() == []
    finally:
        c.close()


def test_valid_startup_then_garbage_gets_protocol_error_then_close(proxy, check_alive):
    c = Conn(proxy)
    try:
        c.handshake()
        c.send(b"\xff\x00" * 20)
        expect_protocol_error_then_close(c, stream=0, contains="version")
    finally:
        c.close()


def test_version_change_after_startup_gets_protocol_error_then_close(proxy, check_alive):
    c = Conn(proxy)
    try:
        c.handshake(version=4)
        c.send(query(3, 4, "SELECT key FROM system.local"))
        expect_protocol_error_then_close(c, stream=4, contains="version")
    finally:
        c.close()


def test_v5_segment_with_bad_crc_gets_protocol_error_then_close(proxy, check_alive):
    c = Conn(proxy)
    try:
        c.handshake(version=5)
        # A good segment first: the connection works in v5 framing.
        c.send(segment(query(5, 2, "SELECT key FROM system.local")))
        assert c.read()[1:3] == (2, RESULT)
        c.send(segment(query(5, 3, "SELECT key FROM system.local"), bad_crc=True))
        expect_protocol_error_then_close(c, stream=0, contains="crc")
    finally:
        c.close()


def test_v5_segment_with_bad_header_crc_gets_protocol_error_then_close(proxy, check_alive):
    c = Conn(proxy)
    try:
        c.handshake(version=5)
        s = bytearray(segment(query(5, 2, "SELECT key FROM system.local")))
        s[3] ^= 0xFF
        c.send(bytes(s))
        expect_protocol_error_then_close(c, stream=0, contains="crc")
    finally:
        c.close()


def test_huge_number_of_streams_each_get_one_answer(proxy, check_alive):
    """32768 requests on every stream id at once, more than the proxy's upstream stream ids
    (2048): reads for origin and USE for both clusters (not answered by the proxy itself). Each is
    answered exactly once, with a RESULT or an OVERLOADED error; the connection stays up."""
    c = Conn(proxy)
    try:
        c.handshake()
        count = 32768
        read = query(4, 0, "SELECT keyspace_name FROM system_schema.keyspaces")
        use = query(4, 0, "USE system")
        wire = b"".join((read if s % 2 else use)[:2] + struct.pack(">h", s) +
                        (read if s % 2 else use)[4:] for s in range(count))
        c.sock.sendall(wire)
        seen = {}
        overloaded = 0
        while len(seen) < count:
            f = c.read(timeout=60)
            assert f is not None, "the proxy closed after %d answers" % len(seen)
            _, stream, opcode, body = f
            assert stream not in seen, "stream %d answered twice" % stream
            if opcode == ERROR:
                code = error_of(f)[1]
                assert code == OVERLOADED, error_of(f)
                overloaded += 1
            else:
                assert opcode == RESULT
            seen[stream] = opcode
        assert sorted(seen) == list(range(count))
        assert overloaded < count, "some requests must get through"
        # Still serving on this connection.
        c.send(query(4, 1, "SELECT key FROM system.local"))
        assert c.read()[1:3] == (1, RESULT)
    finally:
        c.close()


def test_negative_stream_id_gets_protocol_error_and_connection_stays(proxy, check_alive):
    c = Conn(proxy)
    try:
        c.handshake()
        c.send(query(4, -3, "SELECT key FROM system.local"))
        stream, code, message = error_of(c.read())
        assert (stream, code) == (0, PROTOCOL_ERROR), message
        c.send(query(4, 2, "SELECT key FROM system.local"))
        assert c.read()[1:3] == (2, RESULT)
    finally:
        c.close()


def test_a_driver_still_works_after_the_malformed_clients(proxy):
    cluster, session = connect(proxy.host, proxy.port)
    try:
        assert session.execute("SELECT release_version FROM system.local").one()
    finally:
        cluster.shutdown()
    assert proxy.http("/health/liveness")[0] == 200
