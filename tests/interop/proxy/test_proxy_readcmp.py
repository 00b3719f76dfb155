"""Live read comparison (READ_COMPARISON_RATE) and async read hardening (per-request deadline,
re-prepare after UNPREPARED from the secondary), through the proxy with the Python driver."""
import uuid

import pytest
from cassandra.query import SimpleStatement

from conftest import connect
from zdm_procs import Proxy, wait_until

CMP = "zdm_proxy_read_comparisons_total"
RESULTS = ("match", "mismatch", "error", "skipped", "timeout")


def counts(proxy, ks, table="kv"):
    return {r: proxy.metric(CMP, keyspace=ks, table=table, result=r) for r in RESULTS}


def total(c):
    return sum(c.values())


def make_keyspace(session, rows=10):
    ks = "rc_%s" % uuid.uuid4().hex[:10]
    session.execute("CREATE KEYSPACE %s WITH replication = "
                    "{'class': 'SimpleStrategy', 'replication_factor': 1}" % ks)
    session.execute("CREATE TABLE %s.kv (k int PRIMARY KEY, v text)" % ks)
    insert = session.prepare("INSERT INTO %s.kv (k, v) VALUES (?, ?)" % ks)
    for k in range(rows):
        session.execute(insert, (k, "v%d" % k))
    return ks


def settle(proxy, ks, expected_total, what):
    """Comparisons finish when the later of the two answers arrives: wait for the count."""
    return wait_until(lambda: total(counts(proxy, ks)) >= expected_total and counts(proxy, ks),
                      what=what)


def warm_up(proxy, session, ks):
    # The async connection handshakes after the client's: reads before that are not compared.
    def one_compared():
        session.execute("SELECT v FROM %s.kv WHERE k = 0" % ks)
        return counts(proxy, ks)["match"] >= 1
    wait_until(one_compared, what="a first compared read")


@pytest.fixture(scope="module")
def cmp_proxy(origin, target):
    p = Proxy(origin, target, settings={"READ_MODE": "DUAL_ASYNC_ON_SECONDARY",
                                        "READ_COMPARISON_RATE": "1"})
    yield p
    p.stop()


@pytest.mark.parametrize("protocol_version", [4, 5])
def test_comparison_finds_rows_planted_differently_on_target(cmp_proxy, target_session,
                                                             protocol_version):
    cluster, session = connect(cmp_proxy.host, cmp_proxy.port, protocol_version=protocol_version)
    try:
        ks = make_keyspace(session)
        warm_up(cmp_proxy, session, ks)
        # Target drifts: one value changed, one row gone.
        target_session.execute("UPDATE %s.kv SET v = 'planted' WHERE k = 3" % ks)
        target_session.execute("DELETE FROM %s.kv WHERE k = 5" % ks)
        select = session.prepare("SELECT k, v FROM %s.kv WHERE k = ?" % ks)

        before = settle(cmp_proxy, ks, 1, "warm-up comparisons")
        equal = [k for k in range(10) if k not in (3, 5)]
        for k in equal:
            assert session.execute("SELECT k, v FROM %s.kv WHERE k = %d" % (ks, k)).one().v == \
                "v%d" % k
            assert session.execute(select, (k,)).one().v == "v%d" % k
        after_equal = settle(cmp_proxy, ks, total(before) + 2 * len(equal),
                             "comparisons of the equal rows")
        assert after_equal["match"] == before["match"] + 2 * len(equal)
        assert after_equal["mismatch"] == before["mismatch"]

        # The client still gets origin's rows; the comparison notices target's.
        for k in (3, 5):
            assert session.execute("SELECT k, v FROM %s.kv WHERE k = %d" % (ks, k)).one().v == \
                "v%d" % k
            assert session.execute(select, (k,)).one().v == "v%d" % k
        assert len(list(session.execute("SELECT * FROM %s.kv" % ks))) == 10
        after = settle(cmp_proxy, ks, total(after_equal) + 5, "comparisons of the planted rows")
        assert after["mismatch"] == after_equal["mismatch"] + 5
        assert after["match"] == after_equal["match"]
        wait_until(lambda: "read comparison mismatch on %s.kv" % ks in cmp_proxy.output,
                   what="a mismatch log line naming the table")
    finally:
        cluster.shutdown()


def test_first_pages_are_compared_and_continuation_pages_skipped(cmp_proxy):
    cluster, session = connect(cmp_proxy.host, cmp_proxy.port)
    try:
        ks = make_keyspace(session)
        warm_up(cmp_proxy, session, ks)
        before = settle(cmp_proxy, ks, 1, "warm-up comparisons")
        paged = SimpleStatement("SELECT * FROM %s.kv" % ks, fetch_size=3)
        assert len(list(session.execute(paged))) == 10  # pages of 3, 3, 3, 1
        after = settle(cmp_proxy, ks, total(before) + 4, "comparisons of 4 pages")
        assert after["match"] == before["match"] + 1
        assert after["skipped"] == before["skipped"] + 3
        assert after["mismatch"] == before["mismatch"]
    finally:
        cluster.shutdown()


def test_no_comparisons_at_rate_zero(origin, target):
    p = Proxy(origin, target, settings={"READ_MODE": "DUAL_ASYNC_ON_SECONDARY",
                                        "READ_COMPARISON_RATE": "0"})
    try:
        cluster, session = connect(p.host, p.port)
        try:
            ks = make_keyspace(session, rows=3)
            select = session.prepare("SELECT v FROM %s.kv WHERE k = ?" % ks)

            def copies_answered():
                for k in range(3):
                    session.execute(select, (k,))
                return p.metric("zdm_async_request_duration_seconds_count", type="reads") >= 10
            wait_until(copies_answered, what="async reads answered by target")
        finally:
            cluster.shutdown()
        assert "zdm_proxy_read_comparisons_total{" not in p.http("/metrics")[1]
    finally:
        p.stop()


def test_async_reads_time_out_without_touching_the_client(origin, target):
    p = Proxy(origin, target, settings={"READ_MODE": "DUAL_ASYNC_ON_SECONDARY",
                                        "READ_COMPARISON_RATE": "1",
                                        "PROXY_REQUEST_TIMEOUT_MS": "800"})
    rule = None
    try:
        cluster, session = connect(p.host, p.port)
        try:
            ks = make_keyspace(session, rows=3)
            warm_up(p, session, ks)
            rule = target.admin("POST", "/faults", {"action": "no_response",
                                                    "query": "SELECT .* FROM %s\\.kv" % ks})
            for i in range(12):
                assert session.execute("SELECT v FROM %s.kv WHERE k = %d" % (ks, i % 3)).one()
            wait_until(lambda: p.metric("zdm_async_requests_failed_total",
                                        error="client_timeout") >= 12,
                       what="12 async timeouts")
            wait_until(lambda: counts(p, ks)["timeout"] >= 12, what="12 comparison timeouts")
            # Slots were freed: with the fault gone, copies flow and compare again.
            target.admin("DELETE", "/faults/%d" % rule["id"])
            rule = None
            before = counts(p, ks)["match"]
            for i in range(5):
                session.execute("SELECT v FROM %s.kv WHERE k = %d" % (ks, i % 3))
            wait_until(lambda: counts(p, ks)["match"] >= before + 5, what="comparisons again")
            node = "%s:%d" % (target.host, target.port)
            wait_until(lambda: p.metric("zdm_async_inflight_requests_total", node=node) == 0,
                       what="no async request left in flight")
        finally:
            cluster.shutdown()
    finally:
        if rule:
            target.admin("DELETE", "/faults/%d" % rule["id"])
        p.stop()


def test_async_connection_re_prepares_after_unprepared(origin, target):
    p = Proxy(origin, target, settings={"READ_MODE": "DUAL_ASYNC_ON_SECONDARY",
                                        "READ_COMPARISON_RATE": "1"})
    try:
        cluster, session = connect(p.host, p.port)
        try:
            ks = make_keyspace(session, rows=3)
            select = session.prepare("SELECT v FROM %s.kv WHERE k = ?" % ks)
            warm_up(p, session, ks)
            target.admin("POST", "/prepared/clear")
            for i in range(30):
                assert session.execute(select, (i % 3,)).one().v == "v%d" % (i % 3)
            wait_until(lambda: p.metric("zdm_async_reprepares_total") >= 1, what="a re-prepare")
            unprepared = p.metric("zdm_async_requests_failed_total", error="unprepared",
                                  node="%s:%d" % (target.host, target.port))
            # Only the copies in flight before the re-PREPARE fail; later ones execute.
            assert 1 <= unprepared <= 3
            before = counts(p, ks)["match"]
            for i in range(10):
                session.execute(select, (i % 3,))
            wait_until(lambda: counts(p, ks)["match"] >= before + 10,
                       what="prepared async reads compared again")
            assert p.metric("zdm_async_requests_failed_total", error="unprepared",
                            node="%s:%d" % (target.host, target.port)) == unprepared
        finally:
            cluster.shutdown()
    finally:
        p.stop()
