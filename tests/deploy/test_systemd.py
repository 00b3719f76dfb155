"""deploy/systemd: the zdm-proxy unit checked by systemd-analyze (verify, offline security), its
settings against what the proxy does, and the proxy's sd_notify protocol against a datagram
socket bound here, the way systemd's NOTIFY_SOCKET works (no systemd as PID 1 on this machine)."""
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request

import pytest

from deploy_helpers import (DEPLOY, ZDM_BIN, parse_timespan_s, parse_unit, proxy_yaml_defaults,
                            scratch_root_for_verify, systemd_security, systemd_verify, unit_value)
from zdm_procs import Node, free_port_on, wait_until

UNIT = os.path.join(DEPLOY, "systemd", "zdm-proxy.service")
SYSUSERS = os.path.join(DEPLOY, "systemd", "zdm.conf")
DEFAULT_CONFIG = os.path.join(DEPLOY, "debian", "proxy.yaml")


def read(path):
    with open(path) as f:
        return f.read()


def unit_root(tmp_path, unit_text):
    """A scratch root holding the unit as the package installs it and the zdm binary."""
    root = str(tmp_path / "root")
    os.makedirs(os.path.join(root, "usr", "bin"), exist_ok=True)
    shutil.copy2(ZDM_BIN, os.path.join(root, "usr", "bin", "zdm"))
    units = os.path.join(root, "usr", "lib", "systemd", "system")
    os.makedirs(units, exist_ok=True)
    with open(os.path.join(units, "zdm-proxy.service"), "w") as f:
        f.write(unit_text)
    scratch_root_for_verify(root)
    return root


def test_unit_passes_systemd_analyze_verify_and_security(tmp_path):
    root = unit_root(tmp_path, read(UNIT))
    rc, output = systemd_verify(root, "/usr/lib/systemd/system/zdm-proxy.service")
    assert rc == 0 and output == "", "systemd-analyze verify:\n" + output

    # The same check sees a broken unit: verify prints unknown keys and bad values (status 0)
    # and fails on a missing binary.
    broken = read(UNIT).replace("Type=notify\n", "Type=notifyy\nNoSuchKey=1\n")
    broken = broken.replace("ExecStart=/usr/bin/zdm ", "ExecStart=/usr/bin/zdm-missing ")
    broken_root = unit_root(tmp_path / "broken", broken)
    rc, output = systemd_verify(broken_root, "/usr/lib/systemd/system/zdm-proxy.service")
    assert "notifyy" in output and "NoSuchKey" in output and rc != 0, output

    exposure, report = systemd_security(root, "/usr/lib/systemd/system/zdm-proxy.service")
    weak = [line for line in report.splitlines() if line.startswith("\u2717")]
    print("systemd-analyze security: exposure %.1f; not set:\n%s" % (exposure, "\n".join(weak)))
    # systemd calls up to 2.0 "OK"; an unhardened service scores 9.6 ("UNSAFE").
    assert exposure <= 2.0, report


def test_unit_settings_match_the_proxy():
    unit = parse_unit(read(UNIT))
    service = lambda key: unit_value(unit, "Service", key)  # noqa: E731

    assert service("Type") == "notify"
    assert service("ExecStart") == "/usr/bin/zdm proxy --config /etc/zdm/proxy.yaml"
    assert service("ExecReload") == "/bin/kill -HUP $MAINPID"
    assert service("Restart") == "on-failure"
    assert int(unit_value(unit, "Unit", "StartLimitBurst")) >= 1
    assert parse_timespan_s(unit_value(unit, "Unit", "StartLimitIntervalSec")) > 0
    # An invalid configuration exits 2 (checked below): restarting cannot help.
    assert service("RestartPreventExitStatus") == "2"

    # Hardening.
    for key, value in [("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"),
                       ("ProtectHome", "yes"), ("PrivateTmp", "yes"), ("PrivateDevices", "yes"),
                       ("CapabilityBoundingSet", ""), ("AmbientCapabilities", "")]:
        assert service(key) == value, key
    assert "/etc/zdm" in service("ReadOnlyPaths").split()

    # The user comes from the sysusers.d file the package installs.
    assert service("User") == "zdm" and service("Group") == "zdm"
    sysusers = [line.split() for line in read(SYSUSERS).splitlines()
                if line.strip() and not line.startswith("#")]
    assert [fields[:2] for fields in sysusers] == [["u", "zdm"]]

    # Stopping drains for at most proxy_request_timeout_ms + 2 s (proxy_command.cpp); systemd
    # must not SIGKILL the proxy before that, with the default request timeout.
    request_timeout_ms = int(proxy_yaml_defaults(read(DEFAULT_CONFIG))["proxy_request_timeout_ms"])
    assert request_timeout_ms == 10000
    assert parse_timespan_s(service("TimeoutStopSec")) > (request_timeout_ms + 2000) / 1000 + 5
    # Descriptors: a client connection holds up to 4 (client, origin, target, async); room for
    # four times the default proxy_max_client_connections (1000).
    max_clients = int(proxy_yaml_defaults(read(DEFAULT_CONFIG))["proxy_max_client_connections"])
    assert int(service("LimitNOFILE")) >= 4 * max_clients * 4


def test_invalid_configuration_exits_2_so_the_unit_does_not_restart(tmp_path):
    # The shipped default configuration names no clusters: the service fails at once and says
    # which setting is missing, instead of restarting in a loop.
    proc = subprocess.run([ZDM_BIN, "proxy", "--config", DEFAULT_CONFIG],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=30)
    assert proc.returncode == 2, proc.stdout
    assert "origin_contact_points" in proc.stdout
    proc = subprocess.run([ZDM_BIN, "proxy", "--config", str(tmp_path / "missing.yaml")],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=30)
    assert proc.returncode == 2, proc.stdout


class NotifySocket:
    """A datagram socket standing in for systemd's NOTIFY_SOCKET; `name` is what the proxy gets
    (a path, or '@name' for the abstract namespace)."""

    def __init__(self, path=None, abstract=None):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if abstract:
            self.sock.bind("\0" + abstract)
            self.name = "@" + abstract
        else:
            self.sock.bind(path)
            self.name = path

    def receive(self, timeout):
        """The next message as {VAR: value} plus its text, or (None, None) after timeout s."""
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(65536).decode()
        except socket.timeout:
            return None, None
        return dict(line.split("=", 1) for line in data.split("\n") if line), data

    def close(self):
        self.sock.close()


class ProxyProcess:
    """`zdm proxy --config FILE` with NOTIFY_SOCKET, its output collected in the background."""

    def __init__(self, config_path, notify_socket):
        env = {k: v for k, v in os.environ.items() if not k.startswith("ZDM_")}
        env["NOTIFY_SOCKET"] = notify_socket
        self.proc = subprocess.Popen([ZDM_BIN, "proxy", "--config", config_path],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     env=env)
        self.lines = []
        self.ready_line_at = None
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.proc.stdout:
            if self.ready_line_at is None and line.startswith("zdm proxy: listening on"):
                self.ready_line_at = time.monotonic()
            self.lines.append(line)

    @property
    def output(self):
        return "".join(self.lines)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        self._reader.join(5)


def http_get(port, path):
    """(status, body) of GET path on the admin port; (None, "") while nothing listens."""
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except urllib.error.URLError:
        return None, ""  # not listening (yet)


def write_config(path, origin_port, target_port, metrics_port, request_timeout_ms):
    with open(path, "w") as f:
        f.write("origin_contact_points: 127.0.0.1\norigin_port: %d\n"
                "target_contact_points: 127.0.0.1\ntarget_port: %d\n"
                "proxy_listen_address: 127.0.0.1\nproxy_listen_port: 0\n"
                "metrics_address: 127.0.0.1\nmetrics_port: %d\nproxy_threads: 2\n"
                "heartbeat_retry_interval_max_ms: 500\nproxy_request_timeout_ms: %d\n"
                % (origin_port, target_port, metrics_port, request_timeout_ms))


def test_sd_notify_ready_only_when_ready_then_reloading_and_stopping(tmp_path):
    target = Node(cluster_name="target")
    origin_port = free_port_on("127.0.0.1")
    metrics_port = free_port_on("127.0.0.1")
    config = str(tmp_path / "proxy.yaml")
    write_config(config, origin_port, target.port, metrics_port, 10000)
    notify = NotifySocket(path=str(tmp_path / "notify.sock"))
    proxy = ProxyProcess(config, notify.name)
    origin = None
    try:
        # Origin is not up yet: the proxy retries, reports STARTUP (503) and tells systemd nothing.
        wait_until(lambda: http_get(metrics_port, "/health/readiness")[0] == 503, timeout=15,
                   what="the admin port answering 503 during startup")
        message, _ = notify.receive(timeout=1.5)
        assert message is None, "notified before the clusters answered: %r" % message
        assert proxy.ready_line_at is None

        origin = Node(cluster_name="origin", listen="127.0.0.1:%d" % origin_port)
        message, text = notify.receive(timeout=30)
        assert message is not None, "no READY=1 after both clusters came up:\n" + proxy.output
        received_at = time.monotonic()
        assert message.get("READY") == "1", text
        assert message.get("STATUS", "").startswith("listening on 127.0.0.1:"), text
        # READY=1 follows the ready line and the proxy is ready by then.
        wait_until(lambda: proxy.ready_line_at is not None, timeout=5, what="the ready line")
        assert proxy.ready_line_at <= received_at + 0.5
        assert http_get(metrics_port, "/health/readiness")[0] == 200

        # SIGHUP: RELOADING=1 (with the monotonic timestamp systemd 253+ wants), the file applied,
        # then READY=1 again.
        _, body = http_get(metrics_port, "/api/v1/config")
        assert '"proxy_request_timeout_ms":10000' in body.replace(" ", "")
        write_config(config, origin_port, target.port, metrics_port, 7000)
        proxy.proc.send_signal(signal.SIGHUP)
        message, text = notify.receive(timeout=10)
        assert message is not None and message.get("RELOADING") == "1", text
        assert int(message["MONOTONIC_USEC"]) > 0
        message, text = notify.receive(timeout=10)
        assert message is not None and message.get("READY") == "1", text
        _, body = http_get(metrics_port, "/api/v1/config")
        assert '"proxy_request_timeout_ms":7000' in body.replace(" ", ""), body

        # SIGTERM: STOPPING=1 while draining, then exit 0 and nothing more.
        proxy.proc.send_signal(signal.SIGTERM)
        message, text = notify.receive(timeout=10)
        assert message is not None and message.get("STOPPING") == "1", text
        assert "draining" in message.get("STATUS", "")
        assert proxy.proc.wait(20) == 0, proxy.output
        message, text = notify.receive(timeout=0.3)
        assert message is None, text
    finally:
        proxy.stop()
        notify.close()
        if origin:
            origin.stop()
        target.stop()


def test_sd_notify_abstract_socket_and_a_bad_socket_name(tmp_path):
    origin, target = Node(cluster_name="origin"), Node(cluster_name="target")
    try:
        config = str(tmp_path / "proxy.yaml")
        write_config(config, origin.port, target.port, 0, 10000)
        notify = NotifySocket(abstract="zdm-test-notify-%d" % os.getpid())
        proxy = ProxyProcess(config, notify.name)
        try:
            message, text = notify.receive(timeout=30)
            assert message is not None and message.get("READY") == "1", proxy.output
            proxy.proc.send_signal(signal.SIGTERM)
            message, text = notify.receive(timeout=10)
            assert message is not None and message.get("STOPPING") == "1", text
            assert proxy.proc.wait(20) == 0
        finally:
            proxy.stop()
            notify.close()

        # A NOTIFY_SOCKET that is neither a path nor '@name': logged, and the proxy runs anyway.
        proxy = ProxyProcess(config, "not-a-socket")
        try:
            wait_until(lambda: proxy.ready_line_at is not None, timeout=30, what="the ready line")
            wait_until(lambda: "NOTIFY_SOCKET=not-a-socket" in proxy.output, timeout=5,
                       what="a warning naming NOTIFY_SOCKET")
            proxy.proc.send_signal(signal.SIGTERM)
            assert proxy.proc.wait(20) == 0
        finally:
            proxy.stop()
    finally:
        origin.stop()
        target.stop()
