"""`zdm ctl`, `zdm status` and `zdm cutover` driving a fleet of two real `zdm proxy` processes in
front of two `zdm node`s, while the DataStax Python driver writes and reads through the fleet.

Every write the driver saw acknowledged must be on both clusters, no request may fail, and reads
must come from the cluster the phase says: a row planted with a different value on origin and on
target tells which one answered."""
import json
import signal
import threading
import uuid

import cassandra
import pytest
from cassandra.cluster import Cluster
from cassandra.policies import WhiteListRoundRobinPolicy

from conftest import FLEET_HOSTS, TOKEN, describe, zdm, zdm_popen
from zdm_procs import kill_now, send_signal, wait_until

PLANTED = -1  # the key planted with another value on each cluster


def connect(contact_points, port, **kwargs):
    cluster = Cluster(contact_points=list(contact_points), port=port, protocol_version=4,
                      connect_timeout=10, **kwargs)
    return cluster, cluster.connect()


@pytest.fixture
def table(origin, target, fleet):
    """A keyspace and table created through the fleet (so on both clusters), with the planted row
    written directly on each cluster: v = 'origin' there, 'target' here."""
    ks = "ops_%s" % uuid.uuid4().hex[:10]
    cluster, session = connect([FLEET_HOSTS[0]], fleet.cql_port)
    try:
        session.execute("CREATE KEYSPACE %s WITH replication = "
                        "{'class': 'SimpleStrategy', 'replication_factor': 1}" % ks)
        session.execute("CREATE TABLE %s.kv (k int PRIMARY KEY, v text)" % ks)
    finally:
        cluster.shutdown()
    for node, value in ((origin, "origin"), (target, "target")):
        c, s = connect([node.host], node.port)
        try:
            s.execute("INSERT INTO %s.kv (k, v) VALUES (%%s, %%s)" % ks, (PLANTED, value))
        finally:
            c.shutdown()
    return "%s.kv" % ks


class Workload:
    """Writes k = 0, 1, 2... through the fleet and reads each row back at once; counts every
    acknowledged write and records every error or wrong read."""

    def __init__(self, fleet, table):
        self.cluster, self.session = connect([FLEET_HOSTS[0]], fleet.cql_port)
        self.insert = self.session.prepare("INSERT INTO %s (k, v) VALUES (?, ?)" % table)
        self.select = self.session.prepare("SELECT v FROM %s WHERE k = ?" % table)
        self.acked = []
        self.errors = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        k = 0
        while not self._stop.is_set():
            value = "w%d" % k
            try:
                self.session.execute(self.insert, (k, value))
                self.acked.append(k)
                row = self.session.execute(self.select, (k,)).one()
                if row is None or row.v != value:
                    self.errors.append("read of k=%d returned %r, wrote %r" % (k, row, value))
            except Exception as e:  # noqa: BLE001 - every failure is a test failure
                self.errors.append("k=%d: %r" % (k, e))
            k += 1

    def progress(self, more=20):
        """Waits until `more` further writes are acknowledged (the workload runs on)."""
        start = len(self.acked)
        wait_until(lambda: len(self.acked) >= start + more or self.errors, timeout=30,
                   what="%d more acknowledged writes" % more)
        assert not self.errors, self.errors[:5]

    def stop(self):
        self._stop.set()
        self._thread.join(30)
        self.cluster.shutdown()


def planted_values(fleet, table):
    """The planted row's value read through each proxy of the fleet, one proxy at a time."""
    values = []
    for host in FLEET_HOSTS:
        cluster, session = connect([host], fleet.cql_port,
                                   load_balancing_policy=WhiteListRoundRobinPolicy([host]))
        try:
            values.append(session.execute("SELECT v FROM %s WHERE k = %d" % (table, PLANTED)).one().v)
        finally:
            cluster.shutdown()
    return values


def keys_on(node, table):
    cluster, session = connect([node.host], node.port)
    try:
        return {row.k for row in session.execute("SELECT k FROM %s" % table) if row.k != PLANTED}
    finally:
        cluster.shutdown()


def ctl(fleet, *args, **kwargs):
    return zdm("ctl", *args, "--proxies", fleet.addresses(), **kwargs)


def status_json(fleet, *args):
    result = zdm("status", "--json", "--interval", "200ms", "--proxies", fleet.addresses(), *args)
    return result, json.loads(result.stdout)


def assert_changed(result, fleet, changes, old_generation):
    """ctl succeeded with one line per proxy, in order, naming each change and `ready`."""
    assert result.returncode == 0, describe(result)
    lines = result.stdout.splitlines()
    for i in range(len(fleet.proxies)):
        expected = "%s  generation %d -> %d  %s  ready" % (
            fleet.admin(i), old_generation, old_generation + 1,
            "  ".join("%s %s -> %s" % c for c in changes))
        assert lines[i] == expected, describe(result)


def test_phases_under_a_python_workload(origin, target, fleet, table):
    workload = Workload(fleet, table)
    try:
        workload.progress()
        assert planted_values(fleet, table) == ["origin", "origin"]

        result = ctl(fleet, "phase", "3")
        assert_changed(result, fleet, [("read_mode", "PRIMARY_ONLY", "DUAL_ASYNC_ON_SECONDARY")], 1)
        workload.progress()
        assert planted_values(fleet, table) == ["origin", "origin"]
        for i in range(2):
            assert fleet.status(i)["phase"] == 3

        # Compare every copied read: the workload's rows match, the planted row does not.
        result = ctl(fleet, "set", "read_comparison_rate=1")
        assert_changed(result, fleet, [("read_comparison_rate", "0.0", "1.0")], 2)
        workload.progress()
        assert planted_values(fleet, table) == ["origin", "origin"]

        def compared():
            # Async copies are fire and forget (one may be dropped while the async connection is
            # busy, as under the sanitizers): read the planted row again until each proxy has
            # compared one.
            assert planted_values(fleet, table) == ["origin", "origin"]
            result, status = status_json(fleet)
            assert result.returncode == 0, describe(result)
            counts = [p["status"]["read_comparison"] for p in status["proxies"]]
            return status if all(c["mismatches"] >= 1 and c["compared"] > c["mismatches"]
                                 for c in counts) else None
        status = wait_until(compared, timeout=20, what="a mismatch and matches on each proxy")
        assert status["fleet"]["ready"] is True and status["fleet"]["agree"] is True
        assert status["fleet"]["generation"] == 3
        assert [p["status"]["phase"] for p in status["proxies"]] == [3, 3]
        assert [p["settings"]["read_mode"] for p in status["proxies"]] == [
            "DUAL_ASYNC_ON_SECONDARY"] * 2
        assert all(p["requests_per_second"] > 0 for p in status["proxies"]), status["proxies"]
        assert all(p["status"]["async_read_errors"] == 0 for p in status["proxies"])

        # A pause between the proxies: for a second one proxy reads from target, the other from
        # origin, and the workload goes on through both.
        before = len(workload.acked)
        result = ctl(fleet, "phase", "4", "--pause", "1s")
        assert len(workload.acked) - before >= 10, "the workload stalled during the change"
        assert_changed(result, fleet, [("primary_cluster", "ORIGIN", "TARGET"),
                                       ("read_mode", "DUAL_ASYNC_ON_SECONDARY", "PRIMARY_ONLY")], 3)
        workload.progress()
        assert planted_values(fleet, table) == ["target", "target"]

        # The workload is still connected: the proxies cannot go yet.
        result = zdm("cutover", "--proxies", fleet.addresses())
        assert result.returncode == 1, describe(result)
        assert result.stdout.startswith("NOT READY"), describe(result)
        assert "still go through the proxies" in result.stdout, describe(result)
        assert "read-comparison mismatch" in result.stdout, describe(result)
        assert "DataStax Python Driver" in result.stdout, describe(result)
        assert ('contact_points=["%s"],\n    port=%d,' % (target.host, target.port)
                in result.stdout), describe(result)

        result = ctl(fleet, "rollback")
        assert_changed(result, fleet, [("primary_cluster", "TARGET", "ORIGIN")], 4)
        workload.progress()
        assert planted_values(fleet, table) == ["origin", "origin"]
    finally:
        workload.stop()
    assert not workload.errors, workload.errors[:5]
    acked = set(workload.acked)
    assert len(acked) >= 80
    assert acked <= keys_on(origin, table), "acknowledged writes missing on origin"
    assert acked <= keys_on(target, table), "acknowledged writes missing on target"
    # Both proxies carried the workload.
    for i in range(2):
        assert fleet.status(i)["requests_total"] > 0


def test_status_lists_the_python_driver_among_the_clients(fleet, table):
    cluster, session = connect([FLEET_HOSTS[0]], fleet.cql_port)
    try:
        session.execute("SELECT v FROM %s WHERE k = %d" % (table, PLANTED))
        result = zdm("status", "--clients", "--interval", "0", "--proxies", fleet.addresses())
        assert result.returncode == 0, describe(result)
        assert "DataStax Python Driver %s" % cassandra.__version__ in result.stdout, describe(result)
        result, status = status_json(fleet, "--clients")
        drivers = {(c["driver_name"], c["driver_version"])
                   for p in status["proxies"] for c in p["clients"]}
        assert ("DataStax Python Driver", cassandra.__version__) in drivers, status
    finally:
        cluster.shutdown()


def test_status_names_the_setting_the_proxies_disagree_on(fleet):
    result = zdm("ctl", "set", "read_comparison_rate=0.5", "--proxies", fleet.admin(1))
    assert result.returncode == 0, describe(result)
    result = zdm("status", "--interval", "0", "--proxies", fleet.addresses())
    assert result.returncode == 1, describe(result)
    assert "configuration DIFFERS" in result.stdout, describe(result)
    assert ("read_comparison_rate differs: %s 0.0, %s 0.5" % (fleet.admin(0), fleet.admin(1))
            in result.stdout), describe(result)
    _, status = status_json(fleet)
    assert status["fleet"]["agree"] is False
    assert [d["setting"] for d in status["fleet"]["differences"]] == ["read_comparison_rate"]


def test_the_fleet_and_its_token_come_from_the_proxy_yaml(fleet, origin, target, tmp_path):
    config = tmp_path / "proxy.yaml"
    config.write_text("origin_contact_points: %s\norigin_port: %d\n"
                      "target_contact_points: %s\ntarget_port: %d\n"
                      "proxy_topology_addresses: %s\nmetrics_port: %d\nadmin_token: %s\n"
                      % (origin.host, origin.port, target.host, target.port,
                         ",".join(FLEET_HOSTS), fleet.metrics_port, TOKEN))
    result = zdm("status", "--json", "--interval", "0", "--config", config)
    assert result.returncode == 0, describe(result)
    status = json.loads(result.stdout)
    assert [p["address"] for p in status["proxies"]] == [fleet.admin(0), fleet.admin(1)]
    # No ZDM_ADMIN_TOKEN: the YAML's admin_token is the one sent.
    result = zdm("ctl", "phase", "3", "--config", config, token=None)
    assert result.returncode == 0, describe(result)
    assert [fleet.status(i)["phase"] for i in range(2)] == [3, 3]


def test_ctl_with_a_stopped_proxy_changes_nothing_and_names_it(fleet):
    send_signal(fleet.proxies[1], signal.SIGSTOP)
    try:
        result = ctl(fleet, "phase", "4", "--request-timeout", "1s")
    finally:
        send_signal(fleet.proxies[1], signal.SIGCONT)
    assert result.returncode == 1, describe(result)
    assert "FAILED: proxy %s: no answer" % fleet.admin(1) in result.stderr, describe(result)
    assert "nothing was changed on any proxy" in result.stderr, describe(result)
    for i in range(2):
        config = fleet.config(i)
        assert (config["generation"], config["config"]["primary_cluster"]) == (1, "ORIGIN")


def test_ctl_with_a_killed_proxy_changes_nothing_and_names_it(fleet):
    kill_now(fleet.proxies[1])
    result = ctl(fleet, "phase", "4")
    assert result.returncode == 1, describe(result)
    assert ("FAILED: proxy %s unreachable: connection refused" % fleet.admin(1)
            in result.stderr), describe(result)
    config = fleet.config(0)
    assert (config["generation"], config["config"]["primary_cluster"]) == (1, "ORIGIN")


def test_ctl_puts_the_first_proxy_back_when_the_second_stops_midway(fleet):
    # --pause holds ctl between the proxies; the second one stops once the first has changed.
    ctl_process = zdm_popen("ctl", "phase", "4", "--pause", "5s", "--request-timeout", "1s",
                            "--proxies", fleet.addresses())
    try:
        wait_until(lambda: fleet.config(0)["generation"] == 2, timeout=30,
                   what="the first proxy's change")
        send_signal(fleet.proxies[1], signal.SIGSTOP)
        stdout, stderr = ctl_process.communicate(timeout=60)
    finally:
        send_signal(fleet.proxies[1], signal.SIGCONT)
        if ctl_process.poll() is None:
            ctl_process.kill()
    report = "exit %s\nstdout:\n%s\nstderr:\n%s" % (ctl_process.returncode, stdout, stderr)
    assert ctl_process.returncode == 1, report
    assert stdout.startswith("%s  generation 1 -> 2  primary_cluster ORIGIN -> TARGET" %
                             fleet.admin(0)), report
    assert "FAILED: proxy %s: no answer" % fleet.admin(1) in stderr, report
    assert "put back to their old values: %s (generation 2 -> 3)" % fleet.admin(0) in stderr, report
    first, second = fleet.config(0), fleet.config(1)
    assert (first["generation"], first["config"]["primary_cluster"]) == (3, "ORIGIN")
    assert (second["generation"], second["config"]["primary_cluster"]) == (1, "ORIGIN")


def test_ctl_with_a_wrong_token_changes_nothing(fleet):
    result = ctl(fleet, "phase", "4", token="not-" + TOKEN)
    assert result.returncode == 1, describe(result)
    assert "answered 401" in result.stderr, describe(result)
    assert "nothing was changed on any proxy" in result.stderr, describe(result)
    result = ctl(fleet, "phase", "4", token=None)
    assert result.returncode == 1, describe(result)
    assert "no token was sent" in result.stderr, describe(result)
    for i in range(2):
        config = fleet.config(i)
        assert (config["generation"], config["config"]["primary_cluster"]) == (1, "ORIGIN")


def test_ctl_usage_errors_exit_2(fleet):
    for args in (["phase", "2", "--proxies", fleet.addresses()],
                 ["phase", "4"],
                 ["set", "read_mode", "--proxies", fleet.addresses()]):
        result = zdm("ctl", *args)
        assert result.returncode == 2, describe(result)
    assert fleet.config(0)["generation"] == 1


def test_cutover_verdicts(fleet, target):
    result = zdm("cutover", "--proxies", fleet.addresses())
    assert result.returncode == 1, describe(result)
    assert result.stdout.startswith("NOT READY"), describe(result)
    assert "primary_cluster is ORIGIN, not TARGET" in result.stdout, describe(result)

    assert ctl(fleet, "phase", "4").returncode == 0
    wait_until(lambda: all(fleet.status(i)["clients"] == 0 for i in range(2)),
               what="no client connected")
    result = zdm("cutover", "--json", "--proxies", fleet.addresses())
    verdict = json.loads(result.stdout)
    assert result.returncode == 0, describe(result)
    assert verdict["ready"] is True and verdict["reasons"] == []
    assert verdict["target"]["contact_points"] == [target.host]
    assert verdict["target"]["port"] == target.port
    assert 'contact_points=["%s"]' % target.host in verdict["snippets"]["python"]
    assert "cluster.Port = %d" % target.port in verdict["snippets"]["go"]
