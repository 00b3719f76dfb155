"""deploy/ansible against this machine: `ansible-playbook -c local` deploys two `zdm proxy`
processes (zdm_service_manager: process; systemd does not run here) in front of two `zdm node`s,
then, while the DataStax Python driver writes and reads through them:

- change_phase.yml moves the fleet to phase 4 and back (rollback) through the operations API:
  reads come from the cluster the phase says, the proxies keep their pids (no restart);
- deploy_proxies.yml refuses to move the phase back behind the fleet's back; re-run with a changed
  live setting it reloads the file (SIGHUP, same pids); with a setting that needs a restart it is
  refused and says to run rolling_restart.yml;
- rolling_restart.yml restarts the proxies one at a time (new pids, never both not ready at once,
  the new file applied);
- collect_logs.yml fetches both logs and archives them.

The driver sees no failed operation: a draining proxy answers OVERLOADED and closes its
connections once idle, and the driver's default RetryPolicy retries such requests on the next
host (cassandra-driver 3.25 does so for OVERLOADED and connection errors; the statements are
also marked idempotent). Every acknowledged write must be on both clusters.
"""
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import threading
import time
import urllib.error
import urllib.request
import uuid

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "interop"))

from zdm_procs import ZDM_BIN, Node, free_port_on, wait_until  # noqa: E402

SOURCE_DIR = os.environ.get("ZDM_SOURCE_DIR",
                            os.path.join(os.path.dirname(__file__), "..", ".."))
ANSIBLE_DIR = os.path.abspath(os.path.join(SOURCE_DIR, "deploy", "ansible"))
PLAYBOOKS = ["deploy_proxies.yml", "change_phase.yml", "rolling_restart.yml",
             "rolling_upgrade.yml", "collect_logs.yml"]
HOSTS = {"proxy1": "127.0.0.1", "proxy2": "127.0.0.2"}
TOKEN = "ansible-token-%s" % uuid.uuid4().hex[:8]
PLANTED = -1  # the key planted with another value on each cluster


def require_ansible():
    if shutil.which("ansible-playbook") is None:
        pytest.fail("ansible-playbook is not installed: run scripts/install-deps.sh "
                    "(it installs the Debian package ansible)")


def ansible_env(tmp):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZDM_")}
    env.update({
        "ANSIBLE_CONFIG": os.path.join(ANSIBLE_DIR, "ansible.cfg"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_LOCAL_TEMP": os.path.join(tmp, "ansible-local"),
        "ANSIBLE_REMOTE_TEMP": os.path.join(tmp, "ansible-remote"),
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
    })
    return env


def run_playbook(tmp, inventory, playbook, *args, timeout=120):
    """ansible-playbook -i inventory playbook args...; the CompletedProcess (output in stdout)."""
    cmd = ["ansible-playbook", "-i", inventory, *args, os.path.join(ANSIBLE_DIR, playbook)]
    started = time.monotonic()
    result = subprocess.run(cmd, cwd=ANSIBLE_DIR, env=ansible_env(tmp), capture_output=True,
                            text=True, timeout=timeout)
    print("%s %s: exit %d in %.1f s" % (playbook, " ".join(args), result.returncode,
                                        time.monotonic() - started))
    if os.environ.get("ZDM_TEST_ANSIBLE_OUTPUT"):  # debugging: every playbook's output
        print(result.stdout)
    return result


def describe(result):
    return "exit %d\nstdout:\n%s\nstderr:\n%s" % (result.returncode, result.stdout[-12000:],
                                                  result.stderr[-4000:])


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def http(url):
    """(status, body) of GET url; status 0 when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except OSError:
        return 0, ""


# --- ansible-playbook --syntax-check, ansible-lint, inventory checks --------------------------


def test_playbooks_pass_syntax_check(tmp_path):
    require_ansible()
    result = run_playbook(str(tmp_path), os.path.join(ANSIBLE_DIR, "inventory.example.ini"),
                          PLAYBOOKS[0], "--syntax-check",
                          *[os.path.join(ANSIBLE_DIR, p) for p in PLAYBOOKS[1:]])
    assert result.returncode == 0, describe(result)
    for playbook in PLAYBOOKS:
        assert "playbook: %s" % os.path.join(ANSIBLE_DIR, playbook) in result.stdout, \
            describe(result)


def test_ansible_lint(tmp_path):
    if shutil.which("ansible-lint") is None:
        pytest.skip("ansible-lint is not installed (not a Debian dependency of this project)")
    result = subprocess.run(["ansible-lint", *PLAYBOOKS], cwd=ANSIBLE_DIR,
                            env=ansible_env(str(tmp_path)), capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, describe(result)


def test_a_broken_topology_is_refused_before_anything_changes(tmp_path):
    require_ansible()
    tmp = str(tmp_path)
    inventory = write_inventory(tmp, indexes={"proxy1": 0, "proxy2": 0})
    extra = write_extra_vars(tmp, origin_port=9, target_port=9, cql_port=9, metrics_port=9)
    result = run_playbook(tmp, inventory, "deploy_proxies.yml", "-e", "@" + extra)
    assert result.returncode != 0, describe(result)
    assert "needs zdm_topology_index, 0..N-1, each once" in result.stdout, describe(result)
    for host in HOSTS:
        assert not os.path.exists(os.path.join(tmp, host)), "something was installed"


# --- The fleet on this machine ---------------------------------------------------------------


def write_inventory(tmp, indexes=None):
    indexes = indexes or {"proxy1": 0, "proxy2": 1}
    lines = ["[proxies]"]
    for host, ip in HOSTS.items():
        lines.append("%s ansible_connection=local zdm_proxy_address=%s zdm_topology_index=%d "
                     "zdm_base_dir=%s" % (host, ip, indexes[host], os.path.join(tmp, host)))
    lines += ["", "[proxies:vars]", "ansible_python_interpreter=/usr/bin/python3", ""]
    path = os.path.join(tmp, "inventory.ini")
    with open(path, "w") as f:
        f.write("\n".join(lines))
    return path


def write_extra_vars(tmp, origin_port, target_port, cql_port, metrics_port, name="extra.json",
                     **more):
    """The fleet's settings as extra variables (they win over group_vars/proxies/settings.yml,
    which operators edit)."""
    settings = {
        "zdm_service_manager": "process",
        "zdm_binary_src": os.path.abspath(ZDM_BIN),
        "zdm_origin_contact_points": "127.0.0.1",
        "zdm_origin_port": origin_port,
        "zdm_target_contact_points": "127.0.0.1",
        "zdm_target_port": target_port,
        "zdm_proxy_listen_port": cql_port,
        "zdm_metrics_port": metrics_port,
        "zdm_admin_token": TOKEN,
        "zdm_proxy_threads": 2,
        "zdm_readiness_delay": 1,
        "zdm_pause_between_restarts": 1,
        "zdm_stop_timeout": 20,
        "zdm_logs_dest": os.path.join(tmp, "collected"),
    }
    settings.update(more)
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        json.dump(settings, f)
    return path


class Fleet:
    """What the playbooks deployed: paths under each host's zdm_base_dir, the shared ports."""

    def __init__(self, tmp, cql_port, metrics_port):
        self.tmp = tmp
        self.cql_port = cql_port
        self.metrics_port = metrics_port

    def path(self, host, *parts):
        return os.path.join(self.tmp, host, *parts)

    def pid(self, host):
        with open(self.path(host, "run", "zdm", "proxy.pid")) as f:
            return int(f.read().strip())

    def pids(self):
        return {host: self.pid(host) for host in HOSTS}

    def alive(self, pid):
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                return b"proxy" in f.read()
        except OSError:
            return False

    def admin(self, host, path):
        status, body = http("http://%s:%d%s" % (HOSTS[host], self.metrics_port, path))
        assert status == 200, "%s %s: %d %s" % (host, path, status, body)
        return json.loads(body)

    def config_file(self, host):
        with open(self.path(host, "etc", "zdm", "proxy.yaml")) as f:
            return f.read()

    def log(self, host):
        with open(self.path(host, "var", "log", "zdm", "proxy.log")) as f:
            return f.read()

    def stop_all(self):
        """Stops what the playbooks started, by the pid files' pids (graceful, then kill)."""
        for host in HOSTS:
            script = self.path(host, "usr", "local", "lib", "zdm", "zdm-proxy-process")
            if os.path.exists(script):
                subprocess.run([script, "stop"], capture_output=True, timeout=60)


class Workload:
    """Writes k = 0, 1, 2... through the fleet and reads each row back; counts acknowledged
    writes and records every error or wrong read. The driver reaches both proxies: the first
    one's system.peers lists the other."""

    def __init__(self, cql_port, table):
        from cassandra.cluster import Cluster
        self.cluster = Cluster(contact_points=[HOSTS["proxy1"]], port=cql_port,
                               protocol_version=4, connect_timeout=10)
        self.session = self.cluster.connect()
        self.insert = self.session.prepare("INSERT INTO %s (k, v) VALUES (?, ?)" % table)
        self.insert.is_idempotent = True
        self.select = self.session.prepare("SELECT v FROM %s WHERE k = ?" % table)
        self.select.is_idempotent = True
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
                self.session.execute(self.insert, (k, value), timeout=20)
                self.acked.append(k)
                row = self.session.execute(self.select, (k,), timeout=20).one()
                if row is None or row.v != value:
                    self.errors.append("read of k=%d returned %r, wrote %r" % (k, row, value))
            except Exception as e:  # noqa: BLE001 - every failure is a test failure
                self.errors.append("k=%d: %r" % (k, e))
            k += 1
            time.sleep(0.005)

    def hosts_up(self):
        return sorted(h.address for h in self.cluster.metadata.all_hosts() if h.is_up)

    def progress(self, more=20):
        start = len(self.acked)
        wait_until(lambda: len(self.acked) >= start + more or self.errors, timeout=30,
                   what="%d more acknowledged writes" % more)
        assert not self.errors, self.errors[:5]

    def stop(self):
        self._stop.set()
        self._thread.join(30)
        self.cluster.shutdown()


class ReadinessMonitor:
    """Samples both proxies' /health/readiness every 50 ms."""

    def __init__(self, fleet):
        self.fleet = fleet
        self.samples = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            self.samples.append({host: http("http://%s:%d/health/readiness" % (
                ip, self.fleet.metrics_port))[0] == 200 for host, ip in HOSTS.items()})
            time.sleep(0.05)

    def stop(self):
        self._stop.set()
        self._thread.join(10)


def connect_direct(node):
    from cassandra.cluster import Cluster
    cluster = Cluster(contact_points=[node.host], port=node.port, protocol_version=4,
                      connect_timeout=10)
    return cluster, cluster.connect()


def planted_values(fleet, table):
    """The planted row's value read through each proxy, one proxy at a time."""
    from cassandra.cluster import Cluster
    from cassandra.policies import WhiteListRoundRobinPolicy
    values = []
    for ip in HOSTS.values():
        cluster = Cluster(contact_points=[ip], port=fleet.cql_port, protocol_version=4,
                          load_balancing_policy=WhiteListRoundRobinPolicy([ip]),
                          connect_timeout=10)
        try:
            values.append(cluster.connect().execute(
                "SELECT v FROM %s WHERE k = %d" % (table, PLANTED)).one().v)
        finally:
            cluster.shutdown()
    return values


def keys_on(node, table):
    cluster, session = connect_direct(node)
    try:
        return {row.k for row in session.execute("SELECT k FROM %s" % table) if row.k != PLANTED}
    finally:
        cluster.shutdown()


@pytest.fixture
def nodes():
    origin = Node(cluster_name="origin")
    target = Node("--prepared-id-salt", "target-salt", cluster_name="target")
    yield origin, target
    origin.stop()
    target.stop()


def test_deploy_change_phase_rolling_restart_and_logs_under_a_driver_workload(tmp_path, nodes):
    require_ansible()
    origin, target = nodes
    tmp = str(tmp_path)
    cql_port = free_port_on(*HOSTS.values())
    metrics_port = free_port_on(*HOSTS.values())
    while metrics_port == cql_port:
        metrics_port = free_port_on(*HOSTS.values())
    fleet = Fleet(tmp, cql_port, metrics_port)
    inventory = write_inventory(tmp)
    extra = write_extra_vars(tmp, origin.port, target.port, cql_port, metrics_port)
    workload = None
    try:
        # --- deploy_proxies.yml: two proxies, started and ready -------------------------------
        result = run_playbook(tmp, inventory, "deploy_proxies.yml", "-e", "@" + extra)
        assert result.returncode == 0, describe(result)
        started = fleet.pids()
        assert all(fleet.alive(pid) for pid in started.values()), started
        for index, host in enumerate(HOSTS):
            text = fleet.config_file(host)
            assert "proxy_topology_index: %d\n" % index in text, text
            assert 'proxy_topology_addresses: "127.0.0.1,127.0.0.2"\n' in text, text
            assert 'primary_cluster: "ORIGIN"\n' in text, text
            assert oct(os.stat(fleet.path(host, "etc", "zdm", "proxy.yaml")).st_mode & 0o777) \
                == "0o600"  # passwords and the token
            assert http("http://%s:%d/health/readiness" % (HOSTS[host], metrics_port))[0] == 200
            status = fleet.admin(host, "/api/v1/status")
            assert (status["phase"], status["ready"], status["generation"]) == (1, True, 1)

        # The table, through the fleet (so on both clusters); the planted row directly on each.
        table = "ans_%s.kv" % uuid.uuid4().hex[:10]
        from cassandra.cluster import Cluster
        setup = Cluster(contact_points=[HOSTS["proxy1"]], port=cql_port, protocol_version=4)
        session = setup.connect()
        session.execute("CREATE KEYSPACE %s WITH replication = {'class': 'SimpleStrategy', "
                        "'replication_factor': 1}" % table.split(".")[0])
        session.execute("CREATE TABLE %s (k int PRIMARY KEY, v text)" % table)
        setup.shutdown()
        for node, value in ((origin, "origin"), (target, "target")):
            cluster, session = connect_direct(node)
            session.execute("INSERT INTO %s (k, v) VALUES (%%s, %%s)" % table, (PLANTED, value))
            cluster.shutdown()

        workload = Workload(cql_port, table)
        wait_until(lambda: workload.hosts_up() == sorted(HOSTS.values()), timeout=20,
                   what="the driver connected to both proxies")
        workload.progress()
        assert planted_values(fleet, table) == ["origin", "origin"]

        # --- change_phase.yml: phase 4 live, no restart -----------------------------------------
        result = run_playbook(tmp, inventory, "change_phase.yml", "-e", "@" + extra,
                              "-e", "zdm_phase=4")
        assert result.returncode == 0, describe(result)
        assert "generation 1 -> 2  primary_cluster ORIGIN -> TARGET  ready" in result.stdout, \
            describe(result)
        workload.progress()
        assert planted_values(fleet, table) == ["target", "target"]
        assert fleet.pids() == started, "change_phase.yml restarted a proxy"
        for host in HOSTS:
            assert fleet.admin(host, "/api/v1/status")["phase"] == 4
            # A restart keeps the phase: the file says TARGET now.
            assert 'primary_cluster: "TARGET"\n' in fleet.config_file(host)

        # A redeploy with the variables still at ORIGIN is refused: nothing changes.
        result = run_playbook(tmp, inventory, "deploy_proxies.yml", "-e", "@" + extra)
        assert result.returncode != 0, describe(result)
        assert "serves primary_cluster TARGET" in result.stdout, describe(result)
        assert "Nothing was changed" in result.stdout, describe(result)
        assert fleet.pids() == started
        assert planted_values(fleet, table) == ["target", "target"]
        assert 'primary_cluster: "TARGET"\n' in fleet.config_file("proxy1")

        # --- change_phase.yml: rollback ----------------------------------------------------------
        result = run_playbook(tmp, inventory, "change_phase.yml", "-e", "@" + extra,
                              "-e", "zdm_phase=rollback")
        assert result.returncode == 0, describe(result)
        assert "generation 2 -> 3  primary_cluster TARGET -> ORIGIN  ready" in result.stdout, \
            describe(result)
        workload.progress()
        assert planted_values(fleet, table) == ["origin", "origin"]
        assert fleet.pids() == started, "change_phase.yml restarted a proxy"
        assert not workload.errors, workload.errors[:5]

        # --- deploy_proxies.yml with a live setting changed: SIGHUP, no restart -----------------
        extra_rate = write_extra_vars(tmp, origin.port, target.port, cql_port, metrics_port,
                                      name="extra-rate.json", zdm_read_comparison_rate=0.5)
        result = run_playbook(tmp, inventory, "deploy_proxies.yml", "-e", "@" + extra_rate)
        assert result.returncode == 0, describe(result)
        assert "reloaded (SIGHUP), configuration generation 3 -> 4" in result.stdout, \
            describe(result)
        assert fleet.pids() == started, "deploy_proxies.yml restarted a proxy"
        for host in HOSTS:
            config = fleet.admin(host, "/api/v1/config")
            assert config["generation"] == 4
            assert float(config["config"]["read_comparison_rate"]) == 0.5

        # ...with a setting that needs a restart: refused, the proxies keep running as they were.
        extra_cache = write_extra_vars(
            tmp, origin.port, target.port, cql_port, metrics_port, name="extra-cache.json",
            zdm_read_comparison_rate=0.5, zdm_proxy_extra_settings={"prepared_cache_size": 5000})
        result = run_playbook(tmp, inventory, "deploy_proxies.yml", "-e", "@" + extra_cache)
        assert result.returncode != 0, describe(result)
        assert "prepared_cache_size cannot change while the proxy runs" in result.stdout, \
            describe(result)
        assert "run rolling_restart.yml" in result.stdout, describe(result)
        assert fleet.pids() == started
        for host in HOSTS:
            config = fleet.admin(host, "/api/v1/config")
            assert (config["generation"], config["config"]["prepared_cache_size"]) == (4, 10000)
            assert "prepared_cache_size: 5000\n" in fleet.config_file(host)
        workload.progress()
        assert not workload.errors, workload.errors[:5]

        # --- rolling_restart.yml under the workload -------------------------------------------
        acked_before = len(workload.acked)
        monitor = ReadinessMonitor(fleet)
        try:
            result = run_playbook(tmp, inventory, "rolling_restart.yml", "-e", "@" + extra_cache)
        finally:
            monitor.stop()
        assert result.returncode == 0, describe(result)
        restarted = fleet.pids()
        for host in HOSTS:
            assert restarted[host] != started[host], "%s was not restarted" % host
            assert not fleet.alive(started[host]), "%s's old process still runs" % host
            assert fleet.alive(restarted[host])
        # One at a time: some sample saw each proxy not ready, none saw both not ready.
        assert monitor.samples, "no readiness sample"
        for host in HOSTS:
            assert any(not s[host] for s in monitor.samples), "%s never seen down" % host
        both_down = [s for s in monitor.samples if not any(s.values())]
        assert not both_down, "both proxies not ready at once (%d samples)" % len(both_down)
        # Clients came back to each proxy before the next one went down.
        restarts = re.findall(r"(proxy\d): pid (\d+) -> (\d+), ready; (\d+) client "
                              r"connection\(s\) before, (\S+) after", result.stdout)
        assert [r[0] for r in restarts] == list(HOSTS), describe(result)
        for host, before, after, clients_before, clients_after in restarts:
            assert (int(before), int(after)) == (started[host], restarted[host])
            assert int(clients_before) > 0 and clients_after.isdigit() \
                and int(clients_after) > 0, describe(result)
        assert len(workload.acked) > acked_before, "the workload stalled during the restart"
        workload.progress()
        assert not workload.errors, workload.errors[:5]
        for host in HOSTS:
            config = fleet.admin(host, "/api/v1/config")
            # The restart applied the file: the new setting, and the phase and rate it holds.
            assert config["config"]["prepared_cache_size"] == 5000
            assert config["config"]["primary_cluster"] == "ORIGIN"
            assert float(config["config"]["read_comparison_rate"]) == 0.5
        assert planted_values(fleet, table) == ["origin", "origin"]

        # --- rolling_upgrade.yml --limit proxy2 (a canary): another binary (the same one with
        # bytes appended, so that it differs), under the workload -------------------------------
        new_binary = os.path.join(tmp, "zdm-new")
        shutil.copyfile(ZDM_BIN, new_binary)
        with open(new_binary, "ab") as f:
            f.write(b"\0zdm rolling upgrade test %s\0" % uuid.uuid4().hex.encode())
        os.chmod(new_binary, 0o755)
        result = run_playbook(tmp, inventory, "rolling_upgrade.yml", "-e", "@" + extra_cache,
                              "-e", "zdm_binary_src=" + new_binary, "--limit", "proxy2")
        assert result.returncode == 0, describe(result)
        upgraded = fleet.pids()
        assert upgraded["proxy1"] == restarted["proxy1"], "--limit proxy2 restarted proxy1"
        assert sha256(fleet.path("proxy1", "usr", "bin", "zdm")) == sha256(ZDM_BIN)
        assert upgraded["proxy2"] != restarted["proxy2"], "proxy2 was not restarted"
        assert sha256(fleet.path("proxy2", "usr", "bin", "zdm")) == sha256(new_binary)
        # The running process is the new binary.
        assert sha256("/proc/%d/exe" % upgraded["proxy2"]) == sha256(new_binary)
        assert re.search(r"proxy2: pid %d -> %d, ready; [1-9]\d* client connection\(s\) before, "
                         r"[1-9]\d* after, now zdm " % (restarted["proxy2"], upgraded["proxy2"]),
                         result.stdout), describe(result)
        workload.progress()
        assert not workload.errors, workload.errors[:5]

        # --- collect_logs.yml -------------------------------------------------------------------
        result = run_playbook(tmp, inventory, "collect_logs.yml", "-e", "@" + extra_cache)
        assert result.returncode == 0, describe(result)
        collected = os.path.join(tmp, "collected")
        runs = [d for d in os.listdir(collected) if os.path.isdir(os.path.join(collected, d))]
        assert len(runs) == 1, os.listdir(collected)
        run_dir = os.path.join(collected, runs[0])
        for host in HOSTS:
            with open(os.path.join(run_dir, host, "proxy.log")) as f:
                log = f.read()
            # Each process of the host (deploy, restart, and upgrade for proxy2): the first one's
            # SIGHUP reload, the drains, the starts.
            starts = 3 if host == "proxy2" else 2
            assert "configuration changed by SIGHUP" in log
            assert log.count("graceful shutdown") == starts - 1, log
            assert log.count("zdm proxy: listening on %s:%d" % (HOSTS[host], cql_port)) \
                == starts, log
            with open(os.path.join(run_dir, host, "api.json")) as f:
                api = json.load(f)
            assert api["status"]["ready"] is True, api
            assert api["config"]["config"]["admin_token"] == "<redacted>", api
            assert api["clients"]["clients"], api  # the workload's connections
        with tarfile.open(run_dir + ".tar.gz") as archive:
            names = archive.getnames()
        for host in HOSTS:
            assert "%s/%s/proxy.log" % (runs[0], host) in names, names

        # --- A rolling restart never takes a second proxy down --------------------------------
        stop = subprocess.run([fleet.path("proxy1", "usr", "local", "lib", "zdm",
                                          "zdm-proxy-process"), "stop"],
                              capture_output=True, text=True, timeout=60)
        assert stop.stdout.startswith("stopped (pid %d)" % restarted["proxy1"]), stop
        result = run_playbook(tmp, inventory, "rolling_restart.yml", "-e", "@" + extra_cache,
                              "--limit", "proxy2")
        assert result.returncode != 0, describe(result)
        assert "Not restarting proxy2: 127.0.0.1:%d not ready" % metrics_port in result.stdout, \
            describe(result)
        assert fleet.pid("proxy2") == upgraded["proxy2"]
        workload.progress()
        assert not workload.errors, workload.errors[:5]
    finally:
        if workload is not None:
            workload.stop()
        fleet.stop_all()

    # Every acknowledged write is on both clusters; no operation failed.
    assert not workload.errors, workload.errors[:5]
    acked = set(workload.acked)
    assert len(acked) >= 100, len(acked)
    assert acked <= keys_on(origin, table), "acknowledged writes missing on origin"
    assert acked <= keys_on(target, table), "acknowledged writes missing on target"
