"""Start and stop zdm processes (node, proxy) for interop tests.

Every process binds port 0 and reports its ports on a 'listening on' line, so tests run in
parallel without port clashes. The zdm binary comes from $ZDM_BIN (set by CTest).
"""
import atexit
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request

ZDM_BIN = os.environ.get("ZDM_BIN", os.path.join(os.path.dirname(__file__), "../../build/apps/zdm/zdm"))
# ZDM_BIN was built with ASan/UBSan (`make test-asan-interop` sets ZDM_SANITIZED=1): its memory use
# is the allocator's (redzones, a quarantine of freed memory), not the program's.
SANITIZED = os.environ.get("ZDM_SANITIZED") == "1"
# How much slower than the release binary ZDM_BIN is (`make test-asan-interop`: 3). Scales the
# deadlines of wait_until, which only lengthens how long a failing wait takes to give up.
SLOWDOWN = float(os.environ.get("ZDM_TEST_SLOWDOWN", "1"))

_LISTEN = re.compile(r"listening on ([0-9.]+):(\d+)")
_ADMIN = re.compile(r"admin on ([0-9.]+):(\d+)")
# What AddressSanitizer, LeakSanitizer and UndefinedBehaviorSanitizer print (the ASan build, run by
# `make test-asan-interop`). The process may go on or exit with any status, so the output decides.
_SANITIZER_REPORT = re.compile(r"ERROR: (AddressSanitizer|LeakSanitizer)|runtime error: |"
                               r"SUMMARY: UndefinedBehaviorSanitizer")


def check_no_sanitizer_report(what, output):
    """Fails (AssertionError) when `output` of the zdm process `what` holds a sanitizer report."""
    m = _SANITIZER_REPORT.search(output)
    if m:
        raise AssertionError("%s printed a sanitizer report:\n%s"
                             % (what, output[max(0, m.start() - 2000):]))


# Every process started, so that none outlives the test run: a test whose first stop() fails
# (a sanitizer report) never reaches the stop() of the others.
_started = []


@atexit.register
def _kill_leftovers():
    for p in _started:
        if p.poll() is None:
            p.kill()


class ZdmProcess:
    """A running zdm subcommand whose output is collected in the background."""

    def __init__(self, args, ready_pattern=_LISTEN, timeout=30.0):
        self.args = [ZDM_BIN] + list(args)
        self.proc = self._spawn()
        _started.append(self.proc)
        self.lines = []
        self._ready = threading.Event()
        self._ready_line = None
        self._pattern = ready_pattern
        self._sanitizer_checked = False
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if not self._ready.wait(timeout) or self._ready_line is None:
            self.stop()
            raise RuntimeError("%s did not become ready; output:\n%s"
                               % (" ".join(self.args), "".join(self.lines)))

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line)
            if self._ready_line is None and self._pattern.search(line):
                self._ready_line = line
                self._ready.set()
        self._ready.set()  # process ended

    def _spawn(self):
        return subprocess.Popen(self.args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, bufsize=1)

    @property
    def output(self):
        return "".join(self.lines)

    def stop(self, timeout=10.0):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        # All output, including what a sanitizer prints at exit (leaks), then fail on a report.
        self._reader.join(timeout)
        if not self._sanitizer_checked:
            self._sanitizer_checked = True
            check_no_sanitizer_report("zdm %s (pid %d)" % (self.args[1], self.proc.pid),
                                      self.output)
        return self.proc.returncode


class Node(ZdmProcess):
    """`zdm node` on 127.0.0.1 with an ephemeral CQL port and admin (fault injection) port."""

    def __init__(self, *extra, cluster_name="test", datacenter="dc1", listen="127.0.0.1:0"):
        args = ["node", "--listen", listen, "--admin", "127.0.0.1:0",
                "--cluster-name", cluster_name, "--datacenter", datacenter, *extra]
        super().__init__(args)
        m = _LISTEN.search(self._ready_line)
        self.host, self.port = m.group(1), int(m.group(2))
        a = _ADMIN.search(self._ready_line)
        self.admin_port = int(a.group(2)) if a else None

    def admin(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request("http://127.0.0.1:%d%s" % (self.admin_port, path), data=data,
                                     method=method, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            text = resp.read().decode()
            return json.loads(text) if text.strip() else None


def send_signal(process, sig):
    """Sends `sig` to a ZdmProcess (SIGSTOP: a hung node; SIGCONT: it resumes)."""
    if process.proc.poll() is None:
        process.proc.send_signal(sig)


def vm_rss_kb(process):
    """Resident memory of a ZdmProcess in KiB, from /proc (Linux)."""
    with open("/proc/%d/status" % process.proc.pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def kill_now(process):
    """SIGKILL (a node that dies): no shutdown, sockets reset by the kernel."""
    if process.proc.poll() is None:
        process.proc.send_signal(signal.SIGKILL)
        process.proc.wait()


def free_port_on(*hosts):
    """A port free on every one of `hosts` (loopback aliases)."""
    for _ in range(50):
        s = socket.socket()
        s.bind((hosts[0], 0))
        port = s.getsockname()[1]
        others = []
        try:
            for h in hosts[1:]:
                o = socket.socket()
                others.append(o)
                o.bind((h, port))
            return port
        except OSError:
            continue
        finally:
            s.close()
            for o in others:
                o.close()
    raise RuntimeError("no common free port")


def wait_until(predicate, timeout=10.0, interval=0.05, what="condition"):
    """Polls predicate until true; fails the test with `what` after timeout seconds (times
    ZDM_TEST_SLOWDOWN)."""
    timeout *= SLOWDOWN
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)


_PROXY_READY = re.compile(r"zdm proxy: listening on ([0-9.]+):(\d+) \(cql\), metrics on ([0-9.]+):(\d+)")


class Proxy(ZdmProcess):
    """`zdm proxy` in front of two Nodes, configured through ZDM_* environment variables.

    `settings` are extra ZDM_* names without the prefix, e.g. {"READ_MODE": "DUAL_ASYNC_ON_SECONDARY"}.
    """

    def __init__(self, origin, target, listen="127.0.0.1", settings=None, timeout=30.0):
        env = {k: v for k, v in os.environ.items() if not k.startswith("ZDM_")}
        env.update({
            "ZDM_ORIGIN_CONTACT_POINTS": origin.host,
            "ZDM_ORIGIN_PORT": str(origin.port),
            "ZDM_TARGET_CONTACT_POINTS": target.host,
            "ZDM_TARGET_PORT": str(target.port),
            "ZDM_PROXY_LISTEN_ADDRESS": listen,
            "ZDM_PROXY_LISTEN_PORT": "0",
            "ZDM_METRICS_ADDRESS": "127.0.0.1",
            "ZDM_METRICS_PORT": "0",
            "ZDM_PROXY_THREADS": "2",
        })
        for k, v in (settings or {}).items():
            env["ZDM_" + k] = str(v)
        self._env = env
        super().__init__(["proxy", "--startup-timeout", "20"], ready_pattern=_PROXY_READY,
                         timeout=timeout)
        m = _PROXY_READY.search(self._ready_line)
        self.host, self.port = m.group(1), int(m.group(2))
        self.metrics_port = int(m.group(4))

    def _spawn(self):
        return subprocess.Popen(self.args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, bufsize=1, env=self._env)

    def http(self, path):
        """(status, body) of GET path on the metrics/health server."""
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d%s" % (self.metrics_port, path),
                                        timeout=10) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def metric(self, name, **labels):
        """The value of one sample in /metrics (0 when absent)."""
        _, text = self.http("/metrics")
        for line in text.splitlines():
            if not line.startswith(name):
                continue
            rest = line[len(name):]
            if rest.startswith("{"):
                label_text, value = rest[1:].rsplit("}", 1)
                found = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', label_text))
            elif rest.startswith(" "):
                found, value = {}, rest
            else:
                continue
            if all(found.get(k) == v for k, v in labels.items()):
                return float(value.strip())
        return 0.0
