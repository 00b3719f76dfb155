"""Async secondary writes (ZDM_SECONDARY_WRITE_MODE=async, docs/async-writes.md): writes are
answered after the primary; the secondary's copy is sent in the background and journaled when it
fails. The Python driver writes through the proxy while target stalls, dies, refuses; every
acknowledged write must end up on target with origin's write time, with no client error."""
import glob
import json
import os
import signal
import subprocess
import threading
import time
import urllib.request

import pytest

from conftest import connect
from zdm_procs import (SLOWDOWN, ZDM_BIN, Node, Proxy, _PROXY_READY, kill_now, send_signal,
                       wait_until)

KS = "aw"
TOKEN = "async-writes-token"


@pytest.fixture
def nodes():
    o = Node(cluster_name="origin")
    t = Node("--prepared-id-salt", "target-salt", cluster_name="target")
    for n in (o, t):
        create_schema(n)
    yield o, t
    o.stop()
    t.stop()


def create_schema(node):
    cluster, session = connect(node.host, node.port)
    try:
        session.execute("CREATE KEYSPACE IF NOT EXISTS %s WITH replication = "
                        "{'class': 'SimpleStrategy', 'replication_factor': 1}" % KS)
        session.execute("CREATE TABLE IF NOT EXISTS %s.kv (k int PRIMARY KEY, v text)" % KS)
        session.execute("CREATE TABLE IF NOT EXISTS %s.counts (k int PRIMARY KEY, c counter)" % KS)
    finally:
        cluster.shutdown()


def async_proxy(origin, target, journal, **extra):
    settings = {"SECONDARY_WRITE_MODE": "async", "JOURNAL_DIR": str(journal),
                "PROXY_REQUEST_TIMEOUT_MS": "1500", "JOURNAL_SYNC_MS": "50",
                "ADMIN_TOKEN": TOKEN}
    settings.update(extra)
    return Proxy(origin, target, settings=settings)


def refuse_inserts(node):
    """Target answers every INSERT with UNAVAILABLE (a transient error) until cleared."""
    node.admin("POST", "/faults", {"opcode": "EXECUTE", "query": "INSERT", "action": "error",
                                   "error": "UNAVAILABLE"})
    node.admin("POST", "/faults", {"opcode": "QUERY", "query": "INSERT", "action": "error",
                                   "error": "UNAVAILABLE"})


def clear_faults(node):
    node.admin("DELETE", "/faults")


def rows_with_writetime(node, keys=None):
    cluster, session = connect(node.host, node.port)
    try:
        rows = session.execute("SELECT k, v, WRITETIME(v) AS wt FROM %s.kv" % KS)
        found = {r.k: (r.v, r.wt) for r in rows}
    finally:
        cluster.shutdown()
    return found if keys is None else {k: found.get(k) for k in keys}


def config_of(proxy):
    req = urllib.request.Request("http://127.0.0.1:%d/api/v1/config" % proxy.metrics_port)
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read().decode())


class Writer:
    """Inserts through one driver session in a thread; keeps acknowledged keys and errors."""

    def __init__(self, session, first=1, count=None):
        self.session = session
        self.insert = session.prepare("INSERT INTO %s.kv (k, v) VALUES (?, ?)" % KS)
        self.k, self.last = first, None if count is None else first + count
        self.acked, self.errors = [], []
        self.stop_flag = False
        self.thread = threading.Thread(target=self._run)

    def _run(self):
        while not self.stop_flag and (self.last is None or self.k < self.last):
            try:
                self.session.execute(self.insert, (self.k, "v%d" % self.k))
                self.acked.append(self.k)
            except Exception as e:  # noqa: BLE001 - every client error counts
                self.errors.append(repr(e))
            self.k += 1

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop_flag = True
        self.thread.join(60)

    def wait(self):
        self.thread.join(120)


def assert_on_target_with_origins_writetime(origin, target, keys, log=""):
    o = rows_with_writetime(origin, keys)
    t = rows_with_writetime(target, keys)
    missing = [k for k in keys if t[k] is None]
    assert not missing, "%d acknowledged writes missing on target, e.g. %s\n%s" % (
        len(missing), missing[:5], log[-6000:])
    differ = [k for k in keys if t[k] != o[k]]
    assert not differ, "value or write time differs for %d keys, e.g. %s: origin %s target %s" % (
        len(differ), differ[0], o[differ[0]], t[differ[0]])


def wait_caught_up(proxy, timeout=30):
    wait_until(lambda: proxy.metric("zdm_journal_pending_records") == 0
               and proxy.metric("zdm_secondary_writes_in_flight") == 0,
               timeout=timeout, what="journal replayed and nothing in flight")


def test_target_stalled_10s_no_client_error_and_every_write_replayed(nodes, tmp_path):
    origin, target = nodes
    proxy = async_proxy(origin, target, tmp_path / "journal")
    cluster, session = connect(proxy.host, proxy.port)
    try:
        with Writer(session) as w:
            wait_until(lambda: len(w.acked) > 100, what="writes before the stall")
            send_signal(target, signal.SIGSTOP)  # a hung target: copies time out
            grew, readiness = 0, set()
            try:
                end = time.monotonic() + 10
                while time.monotonic() < end:
                    grew = max(grew, proxy.metric("zdm_journal_pending_records"))
                    readiness.add(proxy.http("/health/readiness")[0])
                    time.sleep(0.25)
                stalled_acks = len(w.acked)
            finally:
                send_signal(target, signal.SIGCONT)
            n = len(w.acked)
            wait_until(lambda: len(w.acked) > n + 100, what="writes after the stall")
        assert w.errors == []
        assert stalled_acks > 200, "writes were not answered while target was stalled"
        assert grew > 0, "nothing was journaled while target was stalled"
        assert readiness == {200}, "readiness changed while the secondary was down: %s" % readiness
        wait_caught_up(proxy)
        assert proxy.metric("zdm_journal_replayed_total") > 0
        assert proxy.metric("zdm_secondary_writes_total", outcome="lost") == 0
        assert_on_target_with_origins_writetime(origin, target, w.acked)
    finally:
        cluster.shutdown()
        proxy.stop()
    v = subprocess.run([ZDM_BIN, "validate", "--origin", "%s:%d" % (origin.host, origin.port),
                        "--target", "%s:%d" % (target.host, target.port), "--tables", KS + ".kv"],
                       capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert v.returncode == 0, v.stdout + v.stderr


def test_target_killed_and_restarted_session_stays_open(nodes, tmp_path):
    origin, target = nodes
    proxy = async_proxy(origin, target, tmp_path / "journal")
    cluster, session = connect(proxy.host, proxy.port)
    restarted = None
    try:
        with Writer(session) as w:
            wait_until(lambda: len(w.acked) > 100, what="writes before the kill")
            port = target.port
            kill_now(target)
            first_after_kill = w.k + 1  # the write in flight may have reached the old target
            time.sleep(3)
            n = len(w.acked)
            assert n > 0
            # Same address, empty storage: writes and PREPAREs refused (as unavailable) until
            # the schema is back, or the copies would be set aside for a missing keyspace.
            restarted = Node("--prepared-id-salt", "target-salt",
                             "--fault", "query=INSERT,action=error,error=UNAVAILABLE",
                             "--fault", "opcode=PREPARE,action=error,error=UNAVAILABLE",
                             cluster_name="target", listen="127.0.0.1:%d" % port)
            create_schema(restarted)
            clear_faults(restarted)
            wait_until(lambda: "connection to 127.0.0.1:%d restored" % port in proxy.output,
                       timeout=20, what="the sessions' target connections restored")
            m = len(w.acked)
            wait_until(lambda: len(w.acked) > m + 100, what="writes after the restart")
        assert w.errors == []
        wait_caught_up(proxy)
        keys = [k for k in w.acked if k >= first_after_kill]
        assert len(keys) > 100
        assert_on_target_with_origins_writetime(origin, restarted, keys, proxy.output)
        # A request that needs both clusters works again on the same connection.
        session.execute("CREATE TABLE IF NOT EXISTS %s.after (k int PRIMARY KEY)" % KS)
    finally:
        cluster.shutdown()
        proxy.stop()
        if restarted:
            restarted.stop()


def journal_writes(proxy, count):
    """`count` writes through `proxy` while target refuses them: every one acknowledged, every
    copy journaled. Returns the acknowledged keys."""
    cluster, session = connect(proxy.host, proxy.port)
    try:
        w = Writer(session, count=count)
        w.thread.start()
        w.wait()
        assert w.errors == []
        wait_until(lambda: proxy.metric("zdm_journal_pending_records") >= count,
                   what="every copy journaled")
    finally:
        cluster.shutdown()
    return w.acked


def test_proxy_sigkilled_with_a_journal_replays_it_after_restart(nodes, tmp_path):
    origin, target = nodes
    journal = tmp_path / "journal"
    refuse_inserts(target)
    proxy = async_proxy(origin, target, journal)
    acked = journal_writes(proxy, 300)
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/api/v1/status" % proxy.metrics_port,
                                    timeout=10) as resp:
            status = json.loads(resp.read().decode())
        assert status["secondary_write_mode"] == "async"
        assert status["secondary_writes"]["journal_pending_records"] >= 300
        assert status["secondary_writes"]["applied"] == 0
        # Not the moment to send applications to target directly.
        cutover = subprocess.run([ZDM_BIN, "cutover", "--proxies",
                                  "127.0.0.1:%d" % proxy.metrics_port],
                                 capture_output=True, text=True, timeout=60)
        assert cutover.returncode != 0
        assert "not yet on the secondary cluster" in cutover.stdout + cutover.stderr
    finally:
        kill_now(proxy)
    assert rows_with_writetime(target) == {}
    clear_faults(target)
    again = async_proxy(origin, target, journal)
    try:
        wait_caught_up(again)
        assert "owed to the secondary from an earlier run" in again.output
        assert_on_target_with_origins_writetime(origin, target, acked)
    finally:
        again.stop()


def test_copies_in_flight_at_shutdown_are_journaled(nodes, tmp_path):
    """SIGTERM while target hangs: the copies sent and not answered go to the journal before
    the proxy exits, and the next start replays them."""
    origin, target = nodes
    journal = tmp_path / "journal"
    proxy = async_proxy(origin, target, journal, PROXY_REQUEST_TIMEOUT_MS="60000")
    cluster, session = connect(proxy.host, proxy.port)
    try:
        w = Writer(session, count=200)
        send_signal(target, signal.SIGSTOP)
        try:
            w.thread.start()
            w.wait()
            assert w.errors == []
            wait_until(lambda: proxy.metric("zdm_secondary_writes_in_flight") >= 200,
                       what="every copy in flight")
            assert proxy.metric("zdm_journal_pending_records") == 0
        finally:
            cluster.shutdown()
            assert proxy.stop() == 0
            send_signal(target, signal.SIGCONT)
    finally:
        send_signal(target, signal.SIGCONT)
    assert "200 copy(ies) not yet confirmed journaled at shutdown" in proxy.output
    again = async_proxy(origin, target, journal)
    try:
        assert "200 write(s)" in again.output, again.output[-2000:]
        wait_caught_up(again)
        assert_on_target_with_origins_writetime(origin, target, w.acked)
    finally:
        again.stop()


def test_corrupt_journal_tail_is_reported_and_the_good_records_replayed(nodes, tmp_path):
    origin, target = nodes
    journal = tmp_path / "journal"
    refuse_inserts(target)
    proxy = async_proxy(origin, target, journal)
    acked = journal_writes(proxy, 50)
    proxy.stop()  # graceful: the journal is synced
    segments = sorted(glob.glob(str(journal / "segment-*.zdmj")))
    assert segments
    with open(segments[-1], "r+b") as f:  # tear the last record
        f.seek(0, os.SEEK_END)
        f.truncate(f.tell() - 7)
    clear_faults(target)
    again = async_proxy(origin, target, journal)
    try:
        wait_caught_up(again)
        assert again.metric("zdm_journal_corrupt_records") == 1
        assert "corrupt record" in again.output
        on_target = rows_with_writetime(target, acked)
        missing = [k for k in acked if on_target[k] is None]
        assert len(missing) == 1, missing
        assert_on_target_with_origins_writetime(
            origin, target, [k for k in acked if k not in missing])
    finally:
        again.stop()


def test_full_journal_switches_back_to_sync_and_says_so(nodes, tmp_path):
    origin, target = nodes
    refuse_inserts(target)
    # The room kept back (10%) holds the copies the writer may still have in hand: 50 in
    # flight and up to 256 queued, of ~210 bytes. No fsync during the test: on a busy disk a
    # slow one holds the writer's thread up, its queue passes 256 and the proxy keeps writes
    # synchronous (backpressure) before the journal fills.
    proxy = async_proxy(origin, target, tmp_path / "journal", JOURNAL_MAX_BYTES="1048576",
                        JOURNAL_SEGMENT_BYTES="262144", SECONDARY_WRITE_MAX_IN_FLIGHT="50",
                        JOURNAL_SYNC_MS="600000")
    cluster, session = connect(proxy.host, proxy.port)
    try:
        w = Writer(session, count=6000)
        w.thread.start()
        w.wait()
        assert config_of(proxy)["config"]["secondary_write_mode"] == "sync", (
            proxy.metric("zdm_secondary_writes_total", outcome="journaled"), w.errors[:3],
            proxy.output[-3000:])
        assert "switching to ZDM_SECONDARY_WRITE_MODE=sync" in proxy.output
        assert proxy.metric("zdm_journal_fallbacks_total") >= 1
        # Nothing acknowledged was dropped: the switch came with room left in the journal.
        assert proxy.metric("zdm_secondary_writes_total", outcome="lost") == 0, proxy.output[-5000:]
        # In sync mode a write waits for target again, which refuses: the client hears it.
        assert w.errors, "writes kept being acknowledged without target after the switch"
        acked_async = proxy.metric("zdm_secondary_writes_total", outcome="journaled")
        assert acked_async > 0
    finally:
        cluster.shutdown()
        proxy.stop()


class LimitedProxy(Proxy):
    """A proxy whose files cannot grow past `fsize` bytes (prlimit): writes fail with EFBIG, as
    on a full disk."""

    def __init__(self, fsize, *args, **kwargs):
        self.fsize = fsize
        super().__init__(*args, **kwargs)

    def _spawn(self):
        return subprocess.Popen(["prlimit", "--fsize=%d" % self.fsize, "--"] + self.args,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                bufsize=1, env=self._env)


def test_journal_write_failure_switches_to_sync_and_names_the_lost_write(nodes, tmp_path):
    origin, target = nodes
    refuse_inserts(target)
    proxy = LimitedProxy(6000, origin, target, settings={
        "SECONDARY_WRITE_MODE": "async", "JOURNAL_DIR": str(tmp_path / "journal"),
        "PROXY_REQUEST_TIMEOUT_MS": "1500", "ADMIN_TOKEN": TOKEN})
    cluster, session = connect(proxy.host, proxy.port)
    try:
        w = Writer(session, count=200)
        w.thread.start()
        w.wait()
        wait_until(lambda: config_of(proxy)["config"]["secondary_write_mode"] == "sync",
                   what="the switch to sync mode")
        assert "switching to ZDM_SECONDARY_WRITE_MODE=sync" in proxy.output
        lost = proxy.metric("zdm_secondary_writes_total", outcome="lost")
        assert lost >= 1
        assert "is NOT on TARGET" in proxy.output and "zdm validate --fix" in proxy.output
        assert proxy.proc.poll() is None, "the proxy died on the failed write"
    finally:
        cluster.shutdown()
        proxy.stop()


def test_phase_4_copies_go_to_origin(nodes, tmp_path):
    """Target primary: writes are answered by target, origin (the secondary) gets the copies,
    journaled while it refuses them."""
    origin, target = nodes
    origin.admin("POST", "/faults", {"opcode": "EXECUTE", "query": "INSERT", "action": "error",
                                     "error": "UNAVAILABLE"})
    proxy = async_proxy(origin, target, tmp_path / "journal", PRIMARY_CLUSTER="TARGET")
    try:
        acked = journal_writes(proxy, 100)
        assert rows_with_writetime(origin) == {}
        clear_faults(origin)
        wait_caught_up(proxy)
        t = rows_with_writetime(target, acked)
        o = rows_with_writetime(origin, acked)
        assert t == o and all(v is not None for v in o.values())
    finally:
        proxy.stop()


def test_lwt_and_counters_stay_synchronous(nodes, tmp_path):
    origin, target = nodes
    proxy = async_proxy(origin, target, tmp_path / "journal")
    cluster, session = connect(proxy.host, proxy.port)
    try:
        target.admin("POST", "/faults", {"query": "IF NOT EXISTS|c = c", "action": "error",
                                         "error": "UNAVAILABLE"})
        with pytest.raises(Exception):
            session.execute("INSERT INTO %s.kv (k, v) VALUES (1, 'x') IF NOT EXISTS" % KS)
        with pytest.raises(Exception):
            session.execute("UPDATE %s.counts SET c = c + 1 WHERE k = 1" % KS)
        session.execute("INSERT INTO %s.kv (k, v) VALUES (2, 'y')" % KS)  # plain: async
        clear_faults(target)
        wait_caught_up(proxy)
        assert rows_with_writetime(target, [2])[2] == rows_with_writetime(origin, [2])[2]
    finally:
        cluster.shutdown()
        proxy.stop()


def test_mode_is_live_and_needs_a_journal(nodes, tmp_path):
    origin, target = nodes
    from test_proxy_live import api
    plain = Proxy(origin, target, settings={"ADMIN_TOKEN": TOKEN})
    try:
        status, body = api(plain.metrics_port, "PATCH", "/api/v1/config",
                           {"secondary_write_mode": "async"}, token=TOKEN)
        assert status == 400 and "journal_dir" in json.dumps(body), body
    finally:
        plain.stop()
    proxy = Proxy(origin, target, settings={"ADMIN_TOKEN": TOKEN,
                                            "JOURNAL_DIR": str(tmp_path / "journal")})
    cluster, session = connect(proxy.host, proxy.port)
    try:
        refuse_inserts(target)
        with pytest.raises(Exception):  # sync (the default): target's refusal reaches the client
            session.execute("INSERT INTO %s.kv (k, v) VALUES (1, 'a')" % KS)
        status, body = api(proxy.metrics_port, "PATCH", "/api/v1/config",
                           {"secondary_write_mode": "async"}, token=TOKEN)
        assert status == 200, body
        session.execute("INSERT INTO %s.kv (k, v) VALUES (1, 'b')" % KS)  # same connection
        clear_faults(target)
        wait_caught_up(proxy)
        assert rows_with_writetime(target, [1])[1][0] == "b"
    finally:
        cluster.shutdown()
        proxy.stop()
