"""`zdm journal status / inspect / replay` (docs/journal.md) on journals written by journal_fill
(INSERT records as the proxy journals them), replayed into a real `zdm node` and read back with the
Python driver, writetimes included."""
import json
import os
import subprocess
import tempfile

from conftest import FILL_BIN
from zdm_procs import ZDM_BIN, Node, wait_until

BASE_TS = 1_600_000_000_000_000


def zdm(*args, timeout=120):
    return subprocess.run([ZDM_BIN, *args], capture_output=True, text=True, timeout=timeout)


def fill(directory, *args):
    p = subprocess.run([FILL_BIN, directory, *args], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return p


def new_dir():
    return tempfile.mkdtemp(prefix="zdm-journal-it-")


def to(node):
    return "%s:%d" % (node.host, node.port)


def rows(session):
    out = {}
    for r in session.execute("SELECT id, v, WRITETIME(v) AS wt FROM ks.t"):
        out[r.id] = (r.v, r.wt)
    return out


def test_status_and_inspect_show_the_records():
    d = new_dir()
    fill(d, "--keyspace", "ks", "--rows", "5")
    p = zdm("journal", "status", d, "--json")
    assert p.returncode == 0, p.stderr
    status = json.loads(p.stdout)
    assert status["pending_records"] == 5
    assert status["corrupt_records"] == 0
    assert status["aside_records"] == 0
    assert status["oldest_pending_created_ms"] == BASE_TS // 1000
    assert status["locked_by_pid"] is None
    p = zdm("journal", "inspect", d)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.strip().splitlines()
    assert len(lines) == 5
    assert "EXECUTE prepared -> TARGET ks=ks" in lines[0]
    assert "ts=%d" % BASE_TS in lines[0]
    assert "QUERY -> TARGET" in lines[1]
    assert "INSERT INTO t (id, v) VALUES (?, ?)" in lines[1]
    p = zdm("journal", "inspect", d, "--json", "--limit", "2")
    records = [json.loads(line) for line in p.stdout.strip().splitlines()]
    assert [r["timestamp"] for r in records] == [BASE_TS, BASE_TS + 1]
    assert records[0]["statements"][0]["prepared"] is True


def test_replay_writes_every_record_with_its_timestamp(node, session):
    d = new_dir()
    fill(d, "--keyspace", "ks", "--rows", "40")
    p = zdm("journal", "replay", d, "--to", to(node))
    assert p.returncode == 0, p.stdout + p.stderr
    assert "replayed 40, set aside 0, corrupt skipped 0, remaining 0" in p.stdout
    got = rows(session)
    assert got == {i: ("v%d" % i, BASE_TS + i) for i in range(40)}
    status = json.loads(zdm("journal", "status", d, "--json").stdout)
    assert status["pending_records"] == 0
    # Nothing left: a second replay has nothing to do and succeeds.
    p = zdm("journal", "replay", d, "--to", to(node))
    assert p.returncode == 0, p.stderr
    assert "replayed 0" in p.stdout


def test_a_corrupt_tail_is_reported_and_the_good_records_replayed(node, session):
    d = new_dir()
    fill(d, "--keyspace", "ks", "--rows", "10", "--corrupt-tail")
    status = json.loads(zdm("journal", "status", d, "--json").stdout)
    assert status["pending_records"] == 10
    assert status["corrupt_records"] == 1
    p = zdm("journal", "inspect", d)
    assert "CORRUPT segment 1 offset" in p.stdout and "truncated" in p.stdout
    p = zdm("journal", "replay", d, "--to", to(node))
    assert p.returncode == 1, p.stdout + p.stderr
    assert "replayed 10, set aside 0, corrupt skipped 1, remaining 0" in p.stdout
    assert "damaged region(s) skipped" in p.stderr
    assert len(rows(session)) == 10


def test_a_record_against_a_missing_table_is_set_aside(node, session):
    d = new_dir()
    fill(d, "--keyspace", "ks", "--rows", "2")
    fill(d, "--keyspace", "ks", "--rows", "1", "--first", "2", "--table", "missing")
    fill(d, "--keyspace", "ks", "--rows", "2", "--first", "3")
    p = zdm("journal", "replay", d, "--to", to(node))
    assert p.returncode == 1, p.stdout + p.stderr
    assert "replayed 4, set aside 1" in p.stdout
    assert "set aside" in p.stderr
    assert sorted(rows(session)) == [0, 1, 3, 4]
    p = zdm("journal", "inspect", d, "--aside")
    assert p.returncode == 0
    lines = p.stdout.strip().splitlines()
    assert len(lines) == 1
    assert "INSERT INTO missing" in lines[0]
    assert "reason=" in lines[0] and "missing" in lines[0].split("reason=")[1]
    assert json.loads(zdm("journal", "status", d, "--json").stdout)["aside_records"] == 1


def test_replay_against_a_stopped_node_stops_and_a_rerun_resumes():
    d = new_dir()
    fill(d, "--keyspace", "ks", "--rows", "6")
    stopped = Node(cluster_name="target")
    address = to(stopped)
    stopped.stop()
    p = zdm("journal", "replay", d, "--to", address, "--request-timeout-ms", "2000")
    assert p.returncode == 1, p.stdout + p.stderr
    assert "re-running the same command resumes" in p.stderr
    assert "remaining 6" in p.stdout
    # The node comes back on the same port: the same command finishes the job.
    back = Node(cluster_name="target", listen=address)
    try:
        from cassandra.cluster import Cluster
        cluster = Cluster([back.host], port=back.port, protocol_version=4)
        s = cluster.connect()
        s.execute("CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', "
                  "'replication_factor': 1}")
        s.execute("CREATE TABLE ks.t (id int PRIMARY KEY, v text)")
        p = zdm("journal", "replay", d, "--to", address)
        assert p.returncode == 0, p.stdout + p.stderr
        assert "replayed 6" in p.stdout
        assert rows(s) == {i: ("v%d" % i, BASE_TS + i) for i in range(6)}
        cluster.shutdown()
    finally:
        back.stop()


def test_an_interrupted_replay_resumes_where_it_stopped(node, session):
    d = new_dir()
    fill(d, "--keyspace", "ks", "--rows", "200")
    # 50 records/s: stopped after about a second, the cursor saved every second.
    proc = subprocess.Popen([ZDM_BIN, "journal", "replay", d, "--to", to(node), "--rate", "50"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_until(lambda: len(rows(session)) >= 60, timeout=20, what="some records replayed")
    proc.send_signal(2)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 1, out + err
    assert "interrupted" in err
    remaining = json.loads(zdm("journal", "status", d, "--json").stdout)["pending_records"]
    assert 0 < remaining < 200 - 50
    p = zdm("journal", "replay", d, "--to", to(node))
    assert p.returncode == 0, p.stdout + p.stderr
    assert "replayed %d," % remaining in p.stdout
    assert len(rows(session)) == 200


def test_a_second_replay_is_refused_while_the_directory_is_locked(node, session):
    d = new_dir()
    fill(d, "--keyspace", "ks", "--rows", "500")
    holder = subprocess.Popen([ZDM_BIN, "journal", "replay", d, "--to", to(node), "--rate", "20"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: len(rows(session)) >= 1, timeout=20, what="the first replay to start")
        p = zdm("journal", "replay", d, "--to", to(node))
        assert p.returncode == 2, p.stdout + p.stderr
        assert "journal %s is in use by pid %d; stop that proxy or let it replay" % (d, holder.pid) \
            in p.stderr
        status = json.loads(zdm("journal", "status", d, "--json").stdout)
        assert status["locked_by_pid"] == holder.pid
    finally:
        holder.terminate()
        holder.communicate(timeout=30)


def test_bad_usage_exits_2():
    d = new_dir()
    assert zdm("journal", "replay", d).returncode == 2
    assert zdm("journal", "replay", d, "--to", "127.0.0.1:1", "--cluster", "BOTH").returncode == 2
    assert zdm("journal", "status", os.path.join(d, "nope")).returncode == 2
