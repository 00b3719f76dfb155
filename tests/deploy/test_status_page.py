"""The proxy's status page (GET / on the admin port) in a real browser: headless Chromium renders
it against a live proxy under load, with a `zdm migrate --report-to` run reporting to it, and the
numbers it shows are checked against /metrics read just before and just after."""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "interop"))

from zdm_procs import ZDM_BIN, Node, Proxy, wait_until  # noqa: E402

TOKEN = "status-page-token"
CHROMIUM = shutil.which("chromium")


def chromium(*args):
    if CHROMIUM is None:
        pytest.fail("Debian's chromium is not installed: run scripts/install-deps.sh",
                    pytrace=False)
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=" + profile,
             "--virtual-time-budget=6000", *args],
            capture_output=True, text=True, timeout=60)


def metrics(proxy):
    """{name{labels}: value} of the proxy's /metrics."""
    _, text = proxy.http("/metrics")
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            out[key] = float(value)
    return out


def total(m, prefix, contains=""):
    return sum(v for k, v in m.items() if k.startswith(prefix) and contains in k)


def requests_total(m):
    return total(m, "zdm_proxy_request_duration_seconds_count")


def shown(dom, element_id):
    m = re.search(r'id="%s"[^>]*>([^<]*)<' % re.escape(element_id), dom)
    assert m, "element #%s missing from the rendered page" % element_id
    return m.group(1)


@pytest.fixture
def nodes():
    origin = Node(cluster_name="origin")
    target = Node(cluster_name="target")
    yield origin, target
    origin.stop()
    target.stop()


def test_status_page_shows_what_metrics_say(nodes, tmp_path):
    origin, target = nodes
    proxy = Proxy(origin, target, settings={"ADMIN_TOKEN": TOKEN,
                                            "READ_MODE": "DUAL_ASYNC_ON_SECONDARY",
                                            "READ_COMPARISON_RATE": "1"})
    env = dict(os.environ, ZDM_ADMIN_TOKEN=TOKEN)
    load = migrate = None
    try:
        # The application: reads and writes through the proxy for the whole test.
        load = subprocess.Popen(
            [ZDM_BIN, "bench", "--contact-points", "%s:%d" % (proxy.host, proxy.port),
             "--mix", "mixed:0.5", "--rate", "300", "--duration", "60s", "--no-progress"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # A migration reporting its progress to the proxy.
        subprocess.run([ZDM_BIN, "bench", "--contact-points", "%s:%d" % (origin.host, origin.port),
                        "--keyspace", "mig", "--mix", "writes", "--count", "3000",
                        "--no-progress"], check=True, capture_output=True, timeout=60)
        migrate = subprocess.Popen(
            [ZDM_BIN, "migrate", "--origin", "%s:%d" % (origin.host, origin.port),
             "--target", "%s:%d" % (target.host, target.port), "--keyspaces", "mig",
             "--create-schema", "--max-rows-per-second", "200",
             "--report-to", "127.0.0.1:%d" % proxy.metrics_port],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        wait_until(lambda: total(metrics(proxy), "zdm_proxy_read_comparisons_total") > 0,
                   what="compared reads")
        wait_until(lambda: '"migrate"' in proxy.http("/api/v1/migrations")[1],
                   what="the migration's first report")

        before = metrics(proxy)
        page = chromium("--dump-dom", "http://127.0.0.1:%d/" % proxy.metrics_port)
        after = metrics(proxy)
        dom = page.stdout
        assert 'data-loaded="1"' in dom, page.stderr[-2000:]

        assert shown(dom, "instance") == "%s:%d" % (proxy.host, proxy.port)
        assert shown(dom, "phase") == "3"
        assert shown(dom, "read-mode") == "DUAL_ASYNC_ON_SECONDARY"
        assert shown(dom, "generation") == "%d" % after["zdm_proxy_config_generation"]
        assert shown(dom, "status") == "UP"
        assert shown(dom, "origin-status") == "UP" and shown(dom, "target-status") == "UP"
        assert shown(dom, "origin-addr") == "%s:%d" % (origin.host, origin.port)
        # Counters moving under load: between the two scrapes.
        assert requests_total(before) <= int(shown(dom, "requests-total")) <= requests_total(after)
        assert int(shown(dom, "requests-total")) > 0
        for cluster in ("origin", "target"):
            series = 'zdm_proxy_request_duration_seconds_count{type="reads_%s"}' % cluster
            assert before[series] <= int(shown(dom, "reads-" + cluster)) <= after[series]
        assert int(shown(dom, "reads-origin")) > 0  # phase 3: origin answers the clients
        assert int(shown(dom, "reads-target")) == 0
        compared = int(shown(dom, "compared"))
        assert (total(before, "zdm_proxy_read_comparisons_total", 'result="match"')
                <= compared <= total(after, "zdm_proxy_read_comparisons_total"))
        assert compared > 0
        assert int(shown(dom, "mismatches")) == total(
            after, "zdm_proxy_read_comparisons_total", 'result="mismatch"') == 0
        for cluster in ("origin", "target", "both"):
            assert int(shown(dom, "failed-writes-" + cluster)) == after[
                'zdm_proxy_failed_writes_total{failed_on="%s"}' % cluster]
        assert int(shown(dom, "async-read-errors")) == total(after, "zdm_async_requests_failed_total")
        assert int(shown(dom, "clients-count")) == after["zdm_client_connections_total"]
        # Chromium's virtual time runs the 2 s refresh faster than the server's clock: the rate
        # shows once two samples are a second apart, which a headless load may not reach.
        assert re.fullmatch(r"\u2013|\d+", shown(dom, "requests-rate")), shown(dom, "requests-rate")
        # Clients by driver: zdm bench names itself in STARTUP.
        assert re.search(r"<td>zdm[^<]*</td>", dom), dom[dom.find('id="drivers"'):][:600]
        # The migration's row.
        rows = dom[dom.find('id="migrations"'):]
        assert re.search(r"<td>migrate migrate-[^<]+</td><td>\d+</td>", rows), rows[:800]

        shot = os.environ.get("ZDM_STATUS_PAGE_SCREENSHOT") or str(tmp_path / "status.png")
        chromium("--screenshot=" + shot, "--window-size=1280,900",
                 "--hide-scrollbars", "http://127.0.0.1:%d/" % proxy.metrics_port)
        assert os.path.getsize(shot) > 10000
    finally:
        for p in (load, migrate):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()
        proxy.stop()
