"""deploy/prometheus and deploy/grafana against the real tools (docs/monitoring.md).

- promtool: `check config`, `check rules`, and the rules' unit tests (alerts_test.yml), which must
  test every alert both ways (fires on synthetic series, quiet on healthy ones).
- The dashboards' structure (ids, layout, variables, datasource) and the Grafana provisioning files.
- A real Prometheus (Debian `prometheus`) with a configuration derived from
  deploy/prometheus/prometheus.yml (1 s intervals, file_sd files naming this test's processes)
  scrapes a live `zdm proxy` under a `zdm bench` load (dual async reads, every read compared, a
  write journal so that the async secondary-write metrics exist) and a live, throttled
  `zdm migrate --metrics-port`. Then every query of every dashboard panel and annotation must
  return data (a finite sample), every template variable must resolve, every metric family the
  processes export must be on a dashboard, the alert rules load and evaluate with no alert on
  this healthy run, and a configuration change through the operations API fires
  ZdmProxyConfigChanged.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import pytest
import yaml

from monitoring_helpers import (BUILTINS, DASHBOARDS, DEPLOY, PROMETHEUS_DIR, REPO, Prometheus,
                                all_panels, dashboard_queries, grafana_variables,
                                has_finite_sample, load_dashboard, metric_names,
                                parse_label_values, require_tool, run_tool, substitute,
                                variable_query, variable_value)

sys.path.insert(0, os.path.join(REPO, "tests", "interop"))
import zdm_procs  # noqa: E402
from zdm_procs import Node, Proxy, ZdmProcess, wait_until  # noqa: E402

PROMETHEUS_YML = os.path.join(PROMETHEUS_DIR, "prometheus.yml")
ALERTS_YML = os.path.join(PROMETHEUS_DIR, "alerts.yml")
ALERTS_TEST_YML = os.path.join(PROMETHEUS_DIR, "alerts_test.yml")
ADMIN_TOKEN = "monitoring-test-token"


def load_yaml(path):
    with open(path) as f:
        return yaml.safe_load(f)


def alert_rules():
    return [r for g in load_yaml(ALERTS_YML)["groups"] for r in g["rules"] if "alert" in r]


# ---------------------------------------------------------------------------------------------
# promtool


def test_promtool_check_config():
    code, out = run_tool([require_tool("promtool"), "check", "config", PROMETHEUS_YML])
    assert code == 0, out
    # Every file_sd file the configuration names is shipped (an empty list at least).
    assert "WARNING" not in out, out


def test_promtool_check_rules():
    code, out = run_tool([require_tool("promtool"), "check", "rules", ALERTS_YML])
    assert code == 0, out


def test_promtool_rule_unit_tests():
    code, out = run_tool([require_tool("promtool"), "test", "rules", ALERTS_TEST_YML],
                         cwd=PROMETHEUS_DIR)
    assert code == 0, out
    assert "SUCCESS" in out, out


def test_every_alert_is_unit_tested_both_ways():
    """alerts_test.yml: for each alert, a case where it fires and one where it stays quiet; no
    case names an alert that does not exist (promtool passes such a case silently)."""
    names = [r["alert"] for r in alert_rules()]
    assert len(names) == len(set(names)), "duplicate alert names"
    tests = load_yaml(ALERTS_TEST_YML)
    assert tests["rule_files"] == ["alerts.yml"]
    fires, quiet, named = set(), set(), set()
    for group in tests["tests"]:
        for case in group.get("alert_rule_test", []):
            named.add(case["alertname"])
            (fires if case.get("exp_alerts") else quiet).add(case["alertname"])
    assert named <= set(names), "tests of unknown alerts: %s" % sorted(named - set(names))
    assert not set(names) - fires, "alerts never tested firing: %s" % sorted(set(names) - fires)
    assert not set(names) - quiet, "alerts never tested quiet: %s" % sorted(set(names) - quiet)


def test_every_alert_has_summary_runbook_and_severity():
    for rule in alert_rules():
        ann, labels = rule.get("annotations", {}), rule.get("labels", {})
        assert ann.get("summary"), rule["alert"]
        assert len(ann.get("description", "")) > 150, \
            "%s: the description is its runbook" % rule["alert"]
        assert labels.get("severity") in ("critical", "warning", "info"), rule["alert"]


def test_promtool_check_kubernetes_config(tmp_path):
    """prometheus-kubernetes.yml: Debian's Prometheus is built without Kubernetes discovery, so
    promtool checks it with each kubernetes_sd_configs replaced by a static target (the relabel
    rules, the rule file and everything else are checked as written)."""
    cfg = load_yaml(os.path.join(PROMETHEUS_DIR, "prometheus-kubernetes.yml"))
    assert {j["job_name"] for j in cfg["scrape_configs"]} == {"zdm_proxy", "zdm_migrate"}
    for job in cfg["scrape_configs"]:
        assert job.pop("kubernetes_sd_configs")[0]["role"] == "pod"
        job["static_configs"] = [{"targets": ["10.1.2.3:14001"]}]
    cfg["rule_files"] = [os.path.join(PROMETHEUS_DIR, f) for f in cfg["rule_files"]]
    path = tmp_path / "prometheus-kubernetes.yml"
    path.write_text(yaml.safe_dump(cfg))
    code, out = run_tool([require_tool("promtool"), "check", "config", str(path)])
    assert code == 0, out


def test_prometheus_config_jobs():
    cfg = load_yaml(PROMETHEUS_YML)
    jobs = {j["job_name"]: j for j in cfg["scrape_configs"]}
    for job in ("zdm_proxy", "zdm_migrate"):
        assert job in jobs, job
        for sd in jobs[job]["file_sd_configs"]:
            for f in sd["files"]:
                assert os.path.exists(os.path.join(PROMETHEUS_DIR, f)), f
    assert cfg["rule_files"] == ["alerts.yml"]


# ---------------------------------------------------------------------------------------------
# Dashboards and provisioning (structure)


@pytest.mark.parametrize("name", DASHBOARDS)
def test_dashboard_structure(name):
    d = load_dashboard(name)
    assert 36 <= d["schemaVersion"] <= 39, "schemaVersion for Grafana 9 and 10"
    assert d["uid"] and d["title"] and d.get("id") is None
    variables = grafana_variables(d)
    ds = variables.get("datasource")
    assert ds and ds["type"] == "datasource" and ds["query"] == "prometheus"
    ids, boxes = set(), []
    for p in all_panels(d):
        assert p["id"] not in ids, "duplicate panel id %s" % p["id"]
        ids.add(p["id"])
        g = p["gridPos"]
        assert g["x"] >= 0 and g["w"] > 0 and g["x"] + g["w"] <= 24, p["title"]
        for (x, y, w, h, other) in boxes:
            overlap = (x < g["x"] + g["w"] and g["x"] < x + w
                       and y < g["y"] + g["h"] and g["y"] < y + h)
            assert not overlap, "%r overlaps %r" % (p["title"], other)
        boxes.append((g["x"], g["y"], g["w"], g["h"], p["title"]))
        if p["type"] == "row":
            continue
        assert p["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, p["title"]
        targets = p.get("targets", [])
        assert targets, "%r has no query" % p["title"]
        assert len({t["refId"] for t in targets}) == len(targets), p["title"]
        for t in targets:
            assert t["expr"].strip(), p["title"]
            assert t["datasource"] == p["datasource"], p["title"]
    # Every variable a query uses is defined (or is one of Grafana's).
    known = set(variables) | set(BUILTINS)
    texts = [e for _, e in dashboard_queries(d)] + [variable_query(v) for v in variables.values()]
    for text in texts:
        for m in re.finditer(r"\$\{?(\w+)", text):
            assert m.group(1) in known, "undefined variable $%s in %s" % (m.group(1), text)


def test_dashboard_uids_unique_and_provisioned():
    uids = [load_dashboard(n)["uid"] for n in DASHBOARDS]
    assert len(set(uids)) == len(uids)
    ds = load_yaml(os.path.join(DEPLOY, "grafana", "provisioning", "datasources", "prometheus.yml"))
    assert ds["apiVersion"] == 1
    [source] = ds["datasources"]
    assert source["type"] == "prometheus" and source["url"].startswith("http")
    provider = load_yaml(os.path.join(DEPLOY, "grafana", "provisioning", "dashboards", "zdm.yml"))
    assert provider["apiVersion"] == 1
    [p] = provider["providers"]
    assert p["type"] == "file" and p["options"]["path"]


def test_proxy_dashboard_has_the_reference_panels():
    """The metric families of the reference's "ZDM Proxy Dashboard" (its runbooks use them) and
    ours (per table, read comparison, configuration) are all on zdm-proxy.json."""
    used = set()
    for _, expr in dashboard_queries(load_dashboard("zdm-proxy.json")):
        used |= {re.sub(r"_(bucket|count|sum)$", "", n) for n in metric_names(expr)}
    reference = {"zdm_proxy_request_duration_seconds", "zdm_proxy_inflight_requests_total",
                 "zdm_client_connections_total", "zdm_pscache_miss_total",
                 "zdm_pscache_entries_total", "zdm_proxy_failed_connections_total",
                 "zdm_proxy_failed_reads_total", "zdm_proxy_failed_writes_total",
                 "zdm_async_inflight_requests_total", "zdm_proxy_table_requests_total",
                 "zdm_proxy_read_comparisons_total", "zdm_proxy_config_generation"}
    for x in ("origin", "target", "async"):
        reference |= {"zdm_%s_request_duration_seconds" % x, "zdm_%s_requests_failed_total" % x,
                      "zdm_%s_connections_total" % x, "zdm_%s_used_stream_ids_total" % x}
    assert not reference - used, sorted(reference - used)


# ---------------------------------------------------------------------------------------------
# A real Prometheus scraping a live proxy and a live migration

# Rows read per second per cluster: the migration would last 80 s; the tests need it for ~15 s
# (queries at the end of a run without it fail) and stop it when they are done.
MIGRATE_ROWS = 40000
MIGRATE_RATE = 500


def _zdm(args, **kw):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZDM_")}
    return subprocess.run([zdm_procs.ZDM_BIN] + args, env=env, capture_output=True, text=True,
                          timeout=60, **kw)


class Live:
    """What the live tests share: processes, Prometheus, and times worth querying at."""


def _derived_config(tmp, prometheus_port, proxy, migrate_port):
    cfg = load_yaml(PROMETHEUS_YML)
    cfg["global"].update(scrape_interval="1s", scrape_timeout="1s", evaluation_interval="1s")
    cfg["rule_files"] = [os.path.join(PROMETHEUS_DIR, f) for f in cfg["rule_files"]]
    targets = {"zdm_proxy": ["127.0.0.1:%d" % proxy.metrics_port],
               "zdm_migrate": ["127.0.0.1:%d" % migrate_port]}
    os.makedirs(os.path.join(tmp, "targets"), exist_ok=True)
    for job in cfg["scrape_configs"]:
        if job["job_name"] == "prometheus":
            job["static_configs"] = [{"targets": ["127.0.0.1:%d" % prometheus_port]}]
            continue
        for sd in job.get("file_sd_configs", []):
            files = []
            for f in sd["files"]:
                path = os.path.join(tmp, f)
                with open(path, "w") as out:
                    yaml.safe_dump([{"targets": targets[job["job_name"]]}]
                                   if job["job_name"] in targets else [], out)
                files.append(path)
            sd["files"] = files
    path = os.path.join(tmp, "prometheus.yml")
    with open(path, "w") as f:
        yaml.safe_dump(cfg, f)
    return path


@pytest.fixture(scope="module")
def live():
    require_tool("prometheus")
    started = []
    bench = None
    tmp = tempfile.mkdtemp(prefix="zdm-prometheus-test-")
    live = Live()
    try:
        origin = Node(cluster_name="origin")
        started.append(origin)
        target = Node("--prepared-id-salt", "target-salt", cluster_name="target")
        started.append(target)
        # Rows for the migration, on origin only.
        load = _zdm(["bench", "--contact-points", "127.0.0.1:%d" % origin.port, "--keyspace", "mig",
                     "--mix", "writes", "--count", str(MIGRATE_ROWS), "--partitions",
                     str(MIGRATE_ROWS), "--concurrency", "64", "--warmup", "0", "--no-progress"])
        assert load.returncode == 0, load.stdout + load.stderr
        # A journal directory makes the async secondary-write metrics exist (zdm_journal_*,
        # zdm_secondary_*); the writes stay synchronous (ZDM_SECONDARY_WRITE_MODE=sync).
        proxy = Proxy(origin, target, settings={
            "READ_MODE": "DUAL_ASYNC_ON_SECONDARY", "READ_COMPARISON_RATE": "1",
            "ADMIN_TOKEN": ADMIN_TOKEN, "JOURNAL_DIR": os.path.join(tmp, "journal")})
        started.append(proxy)
        # Every key the load reads exists on both clusters first, with the value the load writes
        # (derived from the key): read comparison then finds no mismatch, as on a migrated table.
        fill = _zdm(["bench", "--contact-points", "127.0.0.1:%d" % proxy.port, "--mix", "writes",
                     "--count", "5000", "--partitions", "5000", "--concurrency", "64",
                     "--warmup", "0", "--no-progress"])
        assert fill.returncode == 0, fill.stdout + fill.stderr
        # Load through the proxy for the whole test: reads (copied to target, compared), writes.
        bench = subprocess.Popen(
            [zdm_procs.ZDM_BIN, "bench", "--contact-points", "127.0.0.1:%d" % proxy.port,
             "--mix", "mixed:0.5", "--rate", "1500", "--concurrency", "8", "--connections", "2",
             "--partitions", "5000", "--duration", "300s", "--warmup", "0", "--no-progress"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env={k: v for k, v in os.environ.items() if not k.startswith("ZDM_")})
        env_prefix = {"ZDM_METRICS_ADDRESS": "127.0.0.1"}
        migrate = _Migrate(["migrate", "--origin", "127.0.0.1:%d" % origin.port,
                            "--target", "127.0.0.1:%d" % target.port, "--keyspaces", "mig",
                            "--create-schema", "--workers", "2", "--max-rows-per-second",
                            str(MIGRATE_RATE), "--metrics-port", "0", "--progress", "never"],
                           env_prefix)
        started.append(migrate)
        port = zdm_procs.free_port_on("127.0.0.1")
        config = _derived_config(tmp, port, proxy, migrate.metrics_port)
        prom = Prometheus(config, tmp, port=port)
        live.prom, live.proxy, live.migrate, live.tmp = prom, proxy, migrate, tmp
        try:
            wait_until(lambda: _targets_up(prom) >= 3, timeout=20, interval=0.2,
                       what="prometheus scraping the proxy, the migration and itself")
            # A configuration change once the proxy's counters have been scraped at 0.
            live.change_time = time.time()
            status, body = _patch_config(proxy, {"read_comparison_rate": 0.9})
            assert status == 200, body
            yield live
        finally:
            prom.stop()
    finally:
        if bench is not None and bench.poll() is None:
            bench.terminate()
            bench.wait(10)
        for p in reversed(started):
            p.stop()
        shutil.rmtree(tmp, ignore_errors=True)


class _Migrate(ZdmProcess):
    """zdm migrate with --metrics-port 0: ready when it logs where its metrics are."""

    _READY = re.compile(r"metrics on ([^ :]+):(\d+)")

    def __init__(self, args, env):
        self._env = {k: v for k, v in os.environ.items() if not k.startswith("ZDM_")}
        self._env.update(env)
        super().__init__(args, ready_pattern=self._READY)
        self.metrics_port = int(self._READY.search(self._ready_line).group(2))

    def _spawn(self):
        return subprocess.Popen(self.args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, bufsize=1, env=self._env)


def _targets_up(prom):
    return sum(1 for r in prom.query("up == 1")["result"])


def _patch_config(proxy, changes):
    req = urllib.request.Request(
        "http://127.0.0.1:%d/api/v1/config" % proxy.metrics_port, method="PATCH",
        data=json.dumps(changes).encode(),
        headers={"Authorization": "Bearer " + ADMIN_TOKEN, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def _substitutions(dashboard):
    values = dict(BUILTINS)
    for name, var in grafana_variables(dashboard).items():
        if var["type"] != "datasource":
            values[name] = variable_value(var)
    return values


# Queries allowed to return no data in a healthy run, with the reason. Keep it short: a panel
# whose metric is created only on a failure gets an `or ... * 0` fallback instead.
ALLOWED_EMPTY = {}


def _check_queries(prom, items):
    """[(where, expr)] -> the failures (where, expr, why) at this moment."""
    failures = []
    for where, expr in items:
        try:
            data = prom.query(expr)
        except AssertionError as e:
            failures.append((where, expr, str(e)))
            continue
        if not data["result"]:
            failures.append((where, expr, "no data"))
        elif not has_finite_sample(data):
            failures.append((where, expr, "only NaN/Inf: %s" % json.dumps(data["result"])[:300]))
    return failures


def test_every_dashboard_query_returns_data(live):
    items = []
    for name in DASHBOARDS:
        d = load_dashboard(name)
        values = _substitutions(d)
        for where, expr in dashboard_queries(d):
            if where.startswith("annotation"):
                continue  # a range query: test_annotations_return_events
            q = substitute(expr, values)
            assert "$" not in q, "%s %s: unsubstituted variable in %s" % (name, where, q)
            if (name, where) in ALLOWED_EMPTY:
                continue
            items.append(("%s %s" % (name, where), q))
    assert len(items) > 90
    # Rates over 10 s need ten seconds of scrapes; the migration's ETA needs ranges finishing.
    deadline = time.monotonic() + 60 * zdm_procs.SLOWDOWN
    failures = _check_queries(live.prom, items)
    while failures and time.monotonic() < deadline:
        time.sleep(1)
        failures = _check_queries(live.prom, [(w, e) for w, e, _ in failures])
    ended = live.migrate.proc.poll() is not None
    assert not failures, "queries without data%s:\n" % (
        " (the migration had ended: raise MIGRATE_ROWS)" if ended else "") + "\n".join(
        "  %s\n    %s\n    -> %s" % f for f in failures)


def test_annotations_return_events(live):
    """The configuration-change annotation marks the PATCH made at the start."""
    d = load_dashboard("zdm-proxy.json")
    values = _substitutions(d)
    annotations = [(w, e) for w, e in dashboard_queries(d) if w.startswith("annotation")]
    assert annotations
    for where, expr in annotations:
        q = substitute(expr, values)
        data = wait_until(
            lambda: live.prom.query_range(q, live.change_time - 5, time.time())["result"],
            timeout=30, interval=0.5, what="%s (%s) to return the change" % (where, q))
        assert data


def test_dashboard_variables_resolve(live):
    """Each label_values() variable lists the live instances, nodes, tables and jobs."""
    expected = {("zdm-proxy.json", "instance"): "127.0.0.1:%d" % live.proxy.metrics_port,
                ("zdm-migration.json", "instance"): "127.0.0.1:%d" % live.migrate.metrics_port,
                ("zdm-migration.json", "keyspace"): "mig",
                ("zdm-migration.json", "table"): "kv",
                ("zdm-process.json", "job"): "zdm_proxy"}
    for name in DASHBOARDS:
        d = load_dashboard(name)
        values = _substitutions(d)
        for vname, var in grafana_variables(d).items():
            if var["type"] == "datasource":
                continue
            assert var["type"] == "query", (name, vname)
            parsed = parse_label_values(variable_query(var))
            assert parsed, "%s $%s: not a label_values() query" % (name, vname)
            selector, label = parsed
            if selector:
                found = {s.get(label) for s in live.prom.series(substitute(selector, values))}
            else:
                found = set(live.prom.get("/api/v1/label/%s/values" % label))
            found.discard(None)
            assert found, "%s $%s (%s) lists nothing" % (name, vname, variable_query(var))
            if (name, vname) in expected:
                assert expected[(name, vname)] in found, (name, vname, found)


def test_every_exported_family_is_on_a_dashboard(live):
    """What the live processes export (their /metrics) is on a dashboard: proxy families on
    zdm-proxy.json, process_* on zdm-process.json, zdm_migrate_* on zdm-migration.json."""
    def families(port):
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10) as r:
            return set(re.findall(r"^# TYPE (\S+) ", r.read().decode(), re.M))

    def used(name):
        out = set()
        for _, expr in dashboard_queries(load_dashboard(name)):
            out |= {re.sub(r"_(bucket|count|sum)$", "", n) for n in metric_names(expr)}
        return out

    proxy = families(live.proxy.metrics_port)
    migrate = families(live.migrate.metrics_port)
    assert {"zdm_proxy_config_generation", "process_resident_memory_bytes"} <= proxy
    assert "zdm_migrate_rows_total" in migrate
    missing = {f for f in proxy if not f.startswith("process_")} - used("zdm-proxy.json")
    missing |= {f for f in proxy if f.startswith("process_")} - used("zdm-process.json")
    missing |= migrate - used("zdm-migration.json")
    assert not missing, "exported but on no dashboard: %s" % sorted(missing)


# Metrics an alert uses that this healthy test run does not have, with the reason.
ALERT_METRICS_ABSENT_HERE = {
    "probe_success": "from prometheus-blackbox-exporter (job zdm_proxy_readiness), not run here",
    "zdm_migrate_errors_total": "zdm migrate creates it at the first failed range attempt",
}


def test_alert_rules_use_exported_metrics(live):
    """Every metric name in alerts.yml exists on the live processes (a misspelt name would make
    a rule silently never fire; promtool's unit tests cannot see that)."""
    names = set(live.prom.get("/api/v1/label/__name__/values"))
    for rule in alert_rules():
        used = metric_names(rule["expr"])
        assert used, rule["alert"]
        missing = {n for n in used - names if n not in ALERT_METRICS_ABSENT_HERE}
        assert not missing, "%s uses %s, which nothing exports" % (rule["alert"], sorted(missing))


def test_alert_rules_evaluate_quietly_and_config_change_fires(live):
    """The rules load into the real Prometheus and evaluate without error on live series; in
    this healthy run only ZdmProxyConfigChanged (the PATCH made at the start) fires."""
    expected = {r["alert"] for r in alert_rules()}

    def firing():
        return [a for a in live.prom.get("/api/v1/alerts")["alerts"]
                if a["labels"]["alertname"] == "ZdmProxyConfigChanged" and a["state"] == "firing"]
    [alert] = wait_until(firing, timeout=30, interval=0.5, what="ZdmProxyConfigChanged to fire")
    assert alert["labels"]["instance"] == "127.0.0.1:%d" % live.proxy.metrics_port
    assert alert["labels"]["job"] == "zdm_proxy"

    groups = live.prom.get("/api/v1/rules")["groups"]
    rules = [r for g in groups for r in g["rules"]]
    assert {r["name"] for r in rules} == expected
    for r in rules:
        assert r["health"] == "ok", "%s: %s" % (r["name"], r.get("lastError"))
    others = [(a["labels"]["alertname"], a["state"], a["labels"])
              for a in live.prom.get("/api/v1/alerts")["alerts"]
              if a["labels"]["alertname"] != "ZdmProxyConfigChanged"]
    assert not others, "alerts on a healthy run: %s" % others
