"""Helpers for the monitoring tests (deploy/prometheus, deploy/grafana): locate the Debian tools,
run a real Prometheus, walk the Grafana dashboards' queries.

- REPO, DEPLOY: the source tree ($ZDM_SOURCE_DIR, else two levels up) and its deploy/ folder.
- require_tool(name): the tool's path; fails the test (never skips) with what to install when it
  is missing.
- Prometheus(config_path, workdir): a `prometheus` process on a free port of 127.0.0.1 with its
  TSDB in workdir; query(), query_range(), series(), get(), stop().
- dashboard_queries(dashboard): every query of a dashboard (panel targets, also in collapsed rows,
  and annotations) as (where, expr) pairs.
- grafana_variables(dashboard) / substitute(expr, values): Grafana's template variables and their
  substitution as Grafana does it for Prometheus (multi values as a regex, All = allValue).
"""
import json
import math
import os
import re
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.environ.get("ZDM_SOURCE_DIR") or os.path.dirname(os.path.dirname(HERE))
DEPLOY = os.path.join(REPO, "deploy")
PROMETHEUS_DIR = os.path.join(DEPLOY, "prometheus")
DASHBOARD_DIR = os.path.join(DEPLOY, "grafana", "dashboards")
DASHBOARDS = ("zdm-proxy.json", "zdm-migration.json", "zdm-process.json")

# Tool -> the Debian package scripts/install-deps.sh installs it from.
_PACKAGES = {"prometheus": "prometheus", "promtool": "prometheus"}


def require_tool(name):
    """Path of a Debian tool; the test fails (CI runs install-deps first) when it is missing."""
    path = shutil.which(name) or (os.path.exists("/usr/bin/" + name) and "/usr/bin/" + name)
    if not path:
        pytest.fail("%s not found: run scripts/install-deps.sh (it installs the Debian package %s)"
                    % (name, _PACKAGES.get(name, name)))
    return path


def run_tool(args, cwd=None, timeout=60):
    """Runs a tool; returns (exit code, stdout + stderr)."""
    p = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout + p.stderr


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Prometheus:
    """A real Prometheus (Debian package) on 127.0.0.1, data in workdir/data, log in workdir."""

    def __init__(self, config_path, workdir, port=None, timeout=30.0):
        self.port = port or free_port()
        self.workdir = workdir
        self.log_path = os.path.join(workdir, "prometheus.log")
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [require_tool("prometheus"), "--config.file=" + config_path,
             "--storage.tsdb.path=" + os.path.join(workdir, "data"),
             "--web.listen-address=127.0.0.1:%d" % self.port, "--log.level=warn"],
            stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("prometheus exited with %s:\n%s"
                                   % (self.proc.returncode, self.log()))
            try:
                with urllib.request.urlopen(self.url("/-/ready"), timeout=2) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("prometheus not ready after %.0fs:\n%s" % (timeout, self.log()))
            time.sleep(0.1)

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def log(self):
        self._log.flush()
        with open(self.log_path) as f:
            return f.read()[-4000:]

    def get(self, path, **params):
        """GET an API path; returns the JSON `data` (fails on status error, with the message)."""
        query = urllib.parse.urlencode(params, doseq=True)
        try:
            with urllib.request.urlopen(self.url(path + ("?" + query if query else "")),
                                        timeout=10) as r:
                body = json.loads(r.read().decode())
        except urllib.error.HTTPError as e:
            body = json.loads(e.read().decode())
        if body.get("status") != "success":
            raise AssertionError("%s %s: %s: %s" % (path, params, body.get("errorType"),
                                                    body.get("error")))
        return body["data"]

    def query(self, expr, at=None):
        params = {"query": expr}
        if at is not None:
            params["time"] = "%.3f" % at
        return self.get("/api/v1/query", **params)

    def query_range(self, expr, start, end, step=1):
        return self.get("/api/v1/query_range", query=expr, start="%.3f" % start,
                        end="%.3f" % end, step=step)

    def series(self, selector):
        return self.get("/api/v1/series", **{"match[]": selector})

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


def has_finite_sample(data):
    """True when a query answer holds at least one sample whose value is a finite number."""
    if data["resultType"] == "scalar":
        return math.isfinite(float(data["result"][1]))
    for r in data["result"]:
        values = [r["value"]] if "value" in r else r.get("values", [])
        if any(math.isfinite(float(v[1])) for v in values):
            return True
    return False


def load_dashboard(name):
    with open(os.path.join(DASHBOARD_DIR, name)) as f:
        return json.load(f)


def all_panels(dashboard):
    """Every panel, rows included, also those nested in collapsed rows."""
    for p in dashboard.get("panels", []):
        yield p
        for q in p.get("panels", []):
            yield q


def dashboard_queries(dashboard):
    """(where, expr) of every Prometheus query: panel targets and annotation queries."""
    out = []
    for p in all_panels(dashboard):
        for t in p.get("targets", []):
            out.append(("panel %r target %s" % (p.get("title"), t.get("refId")), t.get("expr", "")))
    for a in dashboard.get("annotations", {}).get("list", []):
        if a.get("expr"):
            out.append(("annotation %r" % a.get("name"), a["expr"]))
    return out


def grafana_variables(dashboard):
    return {v["name"]: v for v in dashboard.get("templating", {}).get("list", [])}


def variable_value(var):
    """What Grafana substitutes for a variable at its default selection: All -> allValue (or the
    regex of all values); several values -> (a|b); one value -> it."""
    current = var.get("current") or {}
    value = current.get("value")
    if value in (None, [], "", "$__all", ["$__all"]):
        return var.get("allValue") or ".*"
    if isinstance(value, list):
        return value[0] if len(value) == 1 else "(" + "|".join(value) + ")"
    return value


# Grafana's built-in interval variables, as Grafana would set them for a 1 s scrape interval.
BUILTINS = {"__rate_interval": "10s", "__interval": "2s", "__range": "5m", "__range_s": "300",
            "__interval_ms": "2000"}

_VAR = re.compile(r"\$\{(\w+)(?::\w+)?\}|\[\[(\w+)\]\]|\$(\w+)")


def substitute(expr, values):
    """Replaces $name, ${name}, ${name:fmt} and [[name]] with values[name]; an unknown variable
    is left in place (the caller checks that no '$' is left)."""
    def sub(m):
        name = m.group(1) or m.group(2) or m.group(3)
        return values.get(name, m.group(0))
    return _VAR.sub(sub, expr)


_LABEL_VALUES = re.compile(r"^\s*label_values\((?:(.*),)?\s*(\w+)\s*\)\s*$", re.S)


def variable_query(var):
    q = var.get("query")
    if isinstance(q, dict):
        q = q.get("query")
    return q or var.get("definition") or ""


def parse_label_values(query):
    """label_values(selector, label) -> (selector or None, label); anything else -> None."""
    m = _LABEL_VALUES.match(query)
    if not m:
        return None
    return (m.group(1).strip() if m.group(1) else None), m.group(2)


_METRIC = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{")


def metric_names(expr):
    """Metric names written as name{...} in a PromQL expression (all the rules and dashboards
    select with braces)."""
    return set(_METRIC.findall(expr))
