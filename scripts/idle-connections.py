#!/usr/bin/python3
"""Memory per idle client connection of `zdm proxy` (issue 4 target: at most 64 KiB each, with
its two upstream connections, measured with 1000 idle clients).

Starts an origin and a target `zdm node` and the proxy, opens N raw client sockets that each do
the OPTIONS + STARTUP handshake (hand-built protocol v4 frames) and then stay idle, and reports
the proxy's VmRSS before and after, divided by N. The nodes' STARTUP counters (admin /counters)
prove that every client really got its two upstream connections.

Usage: scripts/idle-connections.py BUILD_DIR [--clients 1000] [--threads T]
Runs with /usr/bin/python3 (standard library only). Exit status 1 when over the target or when
some client did not get both upstream connections.
"""
import argparse
import json
import os
import resource
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request

OPCODE_STARTUP, OPCODE_READY, OPCODE_OPTIONS, OPCODE_SUPPORTED = 0x01, 0x02, 0x05, 0x06
OPCODE_ERROR = 0x00
HEADER = struct.Struct(">BBhBi")  # version, flags, stream, opcode, body length (v3+)


def frame(stream, opcode, body=b""):
    return HEADER.pack(0x04, 0, stream, opcode, len(body)) + body


def string_map(entries):
    out = struct.pack(">H", len(entries))
    for k, v in entries.items():
        for s in (k.encode(), v.encode()):
            out += struct.pack(">H", len(s)) + s
    return out


HANDSHAKE = frame(0, OPCODE_OPTIONS) + frame(1, OPCODE_STARTUP,
                                                string_map({"CQL_VERSION": "3.0.0"}))


def read_frame(sock):
    """One response frame as (stream, opcode, body); raises on EOF or timeout."""
    def exactly(n):
        buf = b""
        while len(buf) < n:
            chunk = sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("connection closed by the proxy")
            buf += chunk
        return buf
    _, _, stream, opcode, length = HEADER.unpack(exactly(HEADER.size))
    return stream, opcode, exactly(length)


def start(cmd, env, log_path, what, timeout_s=30):
    """Starts a zdm process and returns (process, ready line) once it printed 'listening on'."""
    log = open(log_path, "w")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, env=env, text=True)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            break
        line = proc.stdout.readline()
        if not line:
            break
        if "listening on" in line:
            return proc, line.strip()
    proc.kill()
    sys.exit(f"idle-connections: {what} did not start; see {log_path}")


def address_after(line, marker):
    """'... listening on 127.0.0.1:41234 (cql), admin on 127.0.0.1:40001' -> host, port."""
    rest = line.split(marker, 1)[1].split()[0].rstrip(",")
    host, port = rest.rsplit(":", 1)
    return host, int(port)


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def startups(admin):
    with urllib.request.urlopen(f"http://{admin[0]}:{admin[1]}/counters", timeout=5) as r:
        return json.load(r)["requests"]["STARTUP"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("build_dir")
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--query-bytes", type=int, default=0,
                        help="before going idle, each client sends one QUERY this large (a "
                             "system.local SELECT padded with a comment), to see what buffers "
                             "grown by traffic keep")
    parser.add_argument("--query-text", default="SELECT key FROM system.local",
                        help="the statement padded by --query-bytes (the default is answered by "
                             "the proxy itself; e.g. 'USE system' goes to both clusters)")
    parser.add_argument("--threads", type=int, default=0,
                        help="ZDM_PROXY_THREADS (0: the proxy's default, one per core)")
    args = parser.parse_args()
    zdm = os.path.join(args.build_dir, "apps/zdm/zdm")
    if not os.access(zdm, os.X_OK):
        sys.exit(f"idle-connections: {zdm} not found; build first")

    # The proxy holds 3 sockets per client, each node one per client, this script one.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = 3 * args.clients + 200
    if hard != resource.RLIM_INFINITY and hard < need:
        sys.exit(f"idle-connections: the open-file hard limit {hard} is below {need}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, need), hard))

    tmp = tempfile.mkdtemp(prefix="zdm-idle-")
    procs = []

    def cleanup(*_):
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
    signal.signal(signal.SIGTERM, lambda *_: (cleanup(), sys.exit(1)))

    try:
        admins = {}
        ports = {}
        for name in ("origin", "target"):
            p, line = start([zdm, "node", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0",
                             "--threads", "1", "--log-level", "warn"],
                            os.environ.copy(), f"{tmp}/{name}.log", f"{name} node")
            procs.append(p)
            ports[name] = address_after(line, "listening on")[1]
            admins[name] = address_after(line, "admin on")
        env = {k: v for k, v in os.environ.items() if not k.startswith("ZDM_")}
        env.update({
            "ZDM_ORIGIN_CONTACT_POINTS": "127.0.0.1", "ZDM_ORIGIN_PORT": str(ports["origin"]),
            "ZDM_TARGET_CONTACT_POINTS": "127.0.0.1", "ZDM_TARGET_PORT": str(ports["target"]),
            "ZDM_PROXY_LISTEN_ADDRESS": "127.0.0.1", "ZDM_PROXY_LISTEN_PORT": "0",
            "ZDM_METRICS_ADDRESS": "127.0.0.1", "ZDM_METRICS_PORT": "0",
            "ZDM_PROXY_MAX_CLIENT_CONNECTIONS": str(args.clients + 100),
            "ZDM_LOG_LEVEL": "WARN",
        })
        if args.threads:
            env["ZDM_PROXY_THREADS"] = str(args.threads)
        proxy, line = start([zdm, "proxy", "--startup-timeout", "20"], env, f"{tmp}/proxy.log",
                            "proxy")
        procs.append(proxy)
        proxy_addr = address_after(line, "listening on")

        # One client first, so that lazily built state (thread caches, first session) is in the
        # baseline and not charged to the idle connections.
        warm = socket.create_connection(proxy_addr, timeout=10)
        warm.sendall(HANDSHAKE)
        read_frame(warm), read_frame(warm)

        startups_before = {n: startups(a) for n, a in admins.items()}
        rss_before, fds_before = rss_kib(proxy.pid), fd_count(proxy.pid)

        clients = []
        for _ in range(args.clients):
            s = socket.create_connection(proxy_addr, timeout=10)
            s.sendall(HANDSHAKE)
            clients.append(s)
        opcodes = {}
        for s in clients:
            for _ in range(2):
                _, opcode, body = read_frame(s)
                opcodes[opcode] = opcodes.get(opcode, 0) + 1
                if opcode == OPCODE_ERROR:
                    sys.exit(f"idle-connections: the proxy answered ERROR: {body[6:]!r}")
        if opcodes.get(OPCODE_READY) != args.clients:
            sys.exit(f"idle-connections: expected {args.clients} READY, got opcodes {opcodes}")
        if args.query_bytes > 0:
            text = (args.query_text + " /*" + "x" * args.query_bytes + "*/").encode()
            query = frame(2, 0x07, struct.pack(">i", len(text)) + text + struct.pack(">HB", 1, 0))
            for s in clients:
                s.sendall(query)
            for s in clients:
                read_frame(s)  # RESULT or ERROR: only the buffers it took matter here
        # Idle connections should cost nothing more over time; let the proxy settle briefly.
        time.sleep(1)
        rss_after, fds_after = rss_kib(proxy.pid), fd_count(proxy.pid)
        startups_after = {n: startups(a) for n, a in admins.items()}
        upstream = {n: startups_after[n] - startups_before[n] for n in admins}

        per_client = (rss_after - rss_before) / args.clients
        extra = f", then one {args.query_bytes}-byte QUERY" if args.query_bytes else ""
        print(f"idle-connections: {args.clients} idle clients, each OPTIONS+STARTUP -> READY{extra}")
        print(f"  upstream STARTUPs seen: origin {upstream['origin']}, target {upstream['target']}")
        print(f"  proxy fds: {fds_before} -> {fds_after} "
              f"({(fds_after - fds_before) / args.clients:.2f} per client)")
        print(f"  proxy VmRSS: {rss_before} KiB -> {rss_after} KiB")
        print(f"  per idle client connection (incl. its 2 upstream connections): "
              f"{per_client:.1f} KiB (target: at most 64 KiB) -> "
              f"{'OK' if per_client <= 64 else 'OVER TARGET'}")
        if upstream["origin"] < args.clients or upstream["target"] < args.clients:
            print("  note: fewer upstream STARTUPs than clients: the proxy did not open both "
                  "upstream connections for every client, so the figure above is too low")
        for s in clients:
            s.close()
        warm.close()
        short = upstream["origin"] < args.clients or upstream["target"] < args.clients
        return 1 if short or per_client > 64 else 0
    finally:
        cleanup()


if __name__ == "__main__":
    sys.exit(main())
