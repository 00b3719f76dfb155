"""Live configuration of a running proxy (docs/operations-api.md): the operations API changes the
routing while the Python driver keeps its connections, refuses what it must, SIGHUP re-reads the
YAML file; readiness says STARTUP until both clusters answered; a silent node is given up on
after the connection timeout."""
import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid

import pytest

from conftest import connect, free_port
from zdm_procs import ZDM_BIN, Proxy, ZdmProcess, _PROXY_READY, send_signal, wait_until

TOKEN = "live-test-token"


def api(port, method, path, body=None, token=None, headers=None):
    """(status, JSON body) of an operations API call."""
    data = None if body is None else json.dumps(body).encode()
    h = {"Content-Type": "application/json"}
    if token:
        h["Authorization"] = "Bearer " + token
    h.update(headers or {})
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), data=data,
                                 method=method, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read().decode())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read().decode())


@pytest.fixture
def live_proxy(origin, target):
    p = Proxy(origin, target, settings={"ADMIN_TOKEN": TOKEN})
    yield p
    p.stop()


@pytest.fixture
def planted(origin_session, target_session):
    """A keyspace with one row whose value differs per cluster: reads say who answered."""
    ks = "live_%s" % uuid.uuid4().hex[:10]
    for s, who in ((origin_session, "origin"), (target_session, "target")):
        s.execute("CREATE KEYSPACE %s WITH replication = "
                  "{'class': 'SimpleStrategy', 'replication_factor': 1}" % ks)
        s.execute("CREATE TABLE %s.kv (k int PRIMARY KEY, v text)" % ks)
        s.execute("INSERT INTO %s.kv (k, v) VALUES (0, '%s')" % (ks, who))
    yield ks
    for s in (origin_session, target_session):
        s.execute("DROP KEYSPACE IF EXISTS %s" % ks)


class Workload:
    """Writes and reads through one driver session in a thread, counting errors."""

    def __init__(self, session, ks):
        self.session, self.ks = session, ks
        self.insert = session.prepare("INSERT INTO %s.kv (k, v) VALUES (?, ?)" % ks)
        self.read = session.prepare("SELECT v FROM %s.kv WHERE k = 0" % ks)
        self.errors, self.written, self.last_read = [], [], None
        self.stop_flag = False
        self.thread = threading.Thread(target=self._run)

    def _run(self):
        k = 1
        while not self.stop_flag:
            try:
                self.session.execute(self.insert, (k, "w%d" % k))
                self.written.append(k)
                self.last_read = self.session.execute(self.read).one().v
            except Exception as e:  # noqa: BLE001 - every client error counts
                self.errors.append(repr(e))
            k += 1

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop_flag = True
        self.thread.join(30)


def test_phase_change_is_live_and_keeps_connections(live_proxy, planted, origin_session,
                                                    target_session):
    cluster, session = connect(live_proxy.host, live_proxy.port)
    try:
        assert session.execute("SELECT v FROM %s.kv WHERE k = 0" % planted).one().v == "origin"
        _, before = api(live_proxy.metrics_port, "GET", "/api/v1/clients")
        with Workload(session, planted) as w:
            wait_until(lambda: len(w.written) > 50, what="workload started")
            status, answer = api(live_proxy.metrics_port, "PATCH", "/api/v1/config",
                                 {"primary_cluster": "TARGET"}, token=TOKEN)
            assert status == 200, answer
            assert answer["generation"] == 2
            assert answer["changed"] == {"primary_cluster": {"old": "ORIGIN", "new": "TARGET"}}
            wait_until(lambda: w.last_read == "target", what="reads served by target")
            n = len(w.written)
            wait_until(lambda: len(w.written) > n + 50, what="workload after the change")
            status, _ = api(live_proxy.metrics_port, "PATCH", "/api/v1/config",
                            {"primary_cluster": "ORIGIN"}, token=TOKEN)
            assert status == 200
            wait_until(lambda: w.last_read == "origin", what="reads served by origin again")
        assert w.errors == []
        # Every acknowledged write is on both clusters.
        for s in (origin_session, target_session):
            rows = {r.k for r in s.execute("SELECT k FROM %s.kv" % planted)}
            missing = set(w.written) - rows
            assert not missing, "missing %d acknowledged writes" % len(missing)
        # Nobody reconnected: the same connections, opened before the first change.
        _, after = api(live_proxy.metrics_port, "GET", "/api/v1/clients")
        assert {c["address"] for c in after["clients"]} == {c["address"] for c in before["clients"]}
        assert live_proxy.metric("zdm_proxy_config_changes_total") == 2
        assert live_proxy.metric("zdm_proxy_config_generation") == 3
        assert live_proxy.metric("zdm_proxy_phase") == 1
        for which in ("all", "origin", "target"):
            assert live_proxy.metric("zdm_proxy_ready", cluster=which) == 1
        assert live_proxy.metric("zdm_proxy_max_stream_ids") == 2048
        api(live_proxy.metrics_port, "PATCH", "/api/v1/config",
            {"primary_cluster": "TARGET", "proxy_max_client_connections": 50}, token=TOKEN)
        assert live_proxy.metric("zdm_proxy_phase") == 4
        assert live_proxy.metric("zdm_proxy_max_client_connections") == 50
    finally:
        cluster.shutdown()
    assert "configuration changed by" in live_proxy.output
    assert TOKEN not in live_proxy.output


def test_api_refusals_change_nothing(live_proxy, origin, target):
    port = live_proxy.metrics_port
    change = {"primary_cluster": "TARGET"}
    assert api(port, "PATCH", "/api/v1/config", change)[0] == 401
    assert api(port, "PATCH", "/api/v1/config", change, token="wrong")[0] == 401
    status, body = api(port, "PATCH", "/api/v1/config", {"read_mode": "SOMETIMES"}, token=TOKEN)
    assert status == 400 and body["setting"] == "read_mode"
    status, body = api(port, "PATCH", "/api/v1/config", {"proxy_listen_port": 9999}, token=TOKEN)
    assert status == 400 and body["setting"] == "proxy_listen_port"
    assert "restart" in body["error"]
    status, body = api(port, "GET", "/api/v1/config")
    assert status == 200 and body["generation"] == 1
    assert body["config"]["primary_cluster"] == "ORIGIN"
    assert body["config"]["admin_token"] == "<redacted>"
    # Concurrent writers: the generation says which one won.
    ok = api(port, "PATCH", "/api/v1/config", {"read_comparison_rate": 0.5}, token=TOKEN,
             headers={"If-Match": "1"})
    late = api(port, "PATCH", "/api/v1/config", {"read_comparison_rate": 0.25}, token=TOKEN,
               headers={"If-Match": "1"})
    assert ok[0] == 200 and late[0] == 409 and late[1]["generation"] == 2
    # A proxy without a token serves the API read-only.
    ro = Proxy(origin, target)
    try:
        assert api(ro.metrics_port, "PATCH", "/api/v1/config", change, token="x")[0] == 403
        assert api(ro.metrics_port, "GET", "/api/v1/status")[1]["phase"] == 1
    finally:
        ro.stop()


def test_status_and_clients_describe_the_proxy(live_proxy, planted):
    cluster, session = connect(live_proxy.host, live_proxy.port, keyspace=planted)
    try:
        session.execute("SELECT v FROM kv WHERE k = 0")
        status, body = api(live_proxy.metrics_port, "GET", "/api/v1/status")
        assert status == 200
        assert body["ready"] is True and body["status"] == "UP" and body["phase"] == 1
        assert body["clients"] >= 1 and body["requests_total"] >= 1
        _, clients = api(live_proxy.metrics_port, "GET", "/api/v1/clients")
        mine = [c for c in clients["clients"] if c["keyspace"] == planted]
        assert mine, clients
        assert mine[0]["driver_name"] == "DataStax Python Driver"
        assert mine[0]["driver_version"]
        assert mine[0]["protocol_version"] == 4
        assert mine[0]["requests"] >= 1 and mine[0]["last_request_at"]
        session.execute("CREATE TABLE events (k int PRIMARY KEY, at timeuuid)")
        session.execute(session.prepare("INSERT INTO events (k, at) VALUES (?, now())"), (7,))
        _, statements = api(live_proxy.metrics_port, "GET", "/api/v1/statements")
        uses_now = [s for s in statements["statements"] if s["nondeterministic_functions"]]
        assert uses_now and uses_now[0]["nondeterministic_functions"] == ["now"]
    finally:
        cluster.shutdown()


class YamlProxy(ZdmProcess):
    """`zdm proxy --config FILE`, for SIGHUP."""

    def __init__(self, path):
        self.path = path
        super().__init__(["proxy", "--config", path, "--startup-timeout", "20"],
                         ready_pattern=_PROXY_READY)
        self.metrics_port = int(_PROXY_READY.search(self._ready_line).group(4))


def write_yaml(path, origin, target, **extra):
    settings = {"origin_contact_points": origin.host, "origin_port": origin.port,
                "target_contact_points": target.host, "target_port": target.port,
                "proxy_listen_address": "127.0.0.1", "proxy_listen_port": 0,
                "metrics_address": "127.0.0.1", "metrics_port": 0, "proxy_threads": 2,
                "admin_token": TOKEN}
    settings.update(extra)
    with open(path, "w") as f:
        for k, v in settings.items():
            f.write("%s: %s\n" % (k, v))


def test_sighup_rereads_the_yaml_file(origin, target, tmp_path):
    path = str(tmp_path / "proxy.yaml")
    write_yaml(path, origin, target)
    p = YamlProxy(path)
    try:
        write_yaml(path, origin, target, read_mode="DUAL_ASYNC_ON_SECONDARY")
        send_signal(p, signal.SIGHUP)
        wait_until(lambda: api(p.metrics_port, "GET", "/api/v1/config")[1]["generation"] == 2,
                   what="generation 2 after SIGHUP")
        assert api(p.metrics_port, "GET", "/api/v1/status")[1]["phase"] == 3
        # A setting that needs a restart: the whole file is refused, the running one kept.
        write_yaml(path, origin, target, read_mode="PRIMARY_ONLY", proxy_max_stream_ids=100,
                   origin_port=origin.port + 1)
        send_signal(p, signal.SIGHUP)
        wait_until(lambda: "SIGHUP: configuration not reloaded" in p.output,
                   what="the refusal logged")
        body = api(p.metrics_port, "GET", "/api/v1/config")[1]
        assert body["generation"] == 2 and body["config"]["read_mode"] == "DUAL_ASYNC_ON_SECONDARY"
        assert "origin_port" in p.output.split("SIGHUP: configuration not reloaded")[1]
    finally:
        p.stop()


def silent_listener():
    """A socket that accepts connections and never answers (a hung node)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(64)
    accepted = []
    stop = threading.Event()

    def loop():
        s.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(s.accept()[0])
            except OSError:
                pass

    t = threading.Thread(target=loop, daemon=True)
    t.start()

    def close():
        stop.set()
        t.join(5)
        for c in accepted:
            c.close()
        s.close()
    return s.getsockname()[1], close


def test_not_ready_until_both_clusters_answered_and_a_silent_node_times_out(target):
    port, close = silent_listener()
    metrics_port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZDM_")}
    env.update({"ZDM_ORIGIN_CONTACT_POINTS": "127.0.0.1", "ZDM_ORIGIN_PORT": str(port),
                "ZDM_ORIGIN_CONNECTION_TIMEOUT_MS": "1500",
                "ZDM_TARGET_CONTACT_POINTS": target.host, "ZDM_TARGET_PORT": str(target.port),
                "ZDM_PROXY_LISTEN_ADDRESS": "127.0.0.1", "ZDM_PROXY_LISTEN_PORT": "0",
                "ZDM_METRICS_ADDRESS": "127.0.0.1", "ZDM_METRICS_PORT": str(metrics_port)})
    proc = subprocess.Popen([ZDM_BIN, "proxy", "--startup-timeout", "6"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        def readiness():
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d/health/readiness" % metrics_port,
                                            timeout=5) as r:
                    return r.status, json.loads(r.read())
            except urllib.error.HTTPError as e:
                return e.code, json.loads(e.read())
            except OSError:
                return None
        first = wait_until(readiness, what="the admin port")
        samples = [first]
        started = time.monotonic()
        while time.monotonic() - started < 3:
            samples.append(readiness())
            time.sleep(0.1)
        assert all(s == (503, {"OriginStatus": None, "TargetStatus": None, "Status": "STARTUP"})
                   for s in samples), samples
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % metrics_port, timeout=5) as r:
            text = r.read().decode()
        for cluster in ("all", "origin", "target"):
            assert 'zdm_proxy_ready{cluster="%s"} 0' % cluster in text, text
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        close()
    assert proc.returncode == 1
    # Each attempt is bounded by the connection timeout (several attempts within 6 s), and says so.
    assert out.count("no answer within 1500 ms") >= 2, out
    assert "could not connect to both clusters within 6000 ms" in out


def test_json_logs_have_stable_fields(origin, target):
    """ZDM_LOG_FORMAT=json: every log line of the proxy is one JSON object with the documented
    fields (stdout keeps only the ready line, for scripts)."""
    p = Proxy(origin, target, settings={"LOG_FORMAT": "json", "ADMIN_TOKEN": TOKEN})
    try:
        assert api(p.metrics_port, "PATCH", "/api/v1/config", {"read_comparison_rate": 0.5},
                   token=TOKEN)[0] == 200
    finally:
        p.stop()
    lines = [l for l in p.output.splitlines() if l and not l.startswith("zdm proxy: listening")]
    assert len(lines) >= 3
    records = [json.loads(l) for l in lines]
    for r in records:
        assert set(r) == {"ts", "level", "logger", "pid", "thread", "msg"}, r
        assert r["logger"] == "zdm proxy"
    assert any(r["level"] == "warn" and "configuration changed by" in r["msg"] for r in records)
    assert not any("ignoring unknown environment variable" in r["msg"] for r in records)
