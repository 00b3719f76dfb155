"""Readiness and connection limits of `zdm proxy`."""
import json
import socket

from zdm_procs import Node, Proxy, wait_until


def test_readiness_turns_down_when_a_cluster_stops_answering_heartbeats():
    origin = Node(cluster_name="origin-ready")
    target = Node(cluster_name="target-ready")
    p = None
    try:
        p = Proxy(origin, target, settings={"HEARTBEAT_INTERVAL_MS": 100,
                                            "HEARTBEAT_RETRY_INTERVAL_MIN_MS": 100,
                                            "HEARTBEAT_RETRY_INTERVAL_MAX_MS": 200})
        status, body = p.http("/health/readiness")
        assert status == 200, body
        report = json.loads(body)
        assert report["OriginStatus"]["Status"] == "UP"
        assert report["TargetStatus"]["Addr"] == "%s:%d" % (target.host, target.port)
        target.stop()

        def target_down():
            s, b = p.http("/health/readiness")
            return s == 503 and json.loads(b)["TargetStatus"]["Status"] == "DOWN"
        wait_until(target_down, what="readiness 503 with target DOWN")
        report = json.loads(p.http("/health/readiness")[1])
        assert report["Status"] == "DOWN"
        assert report["TargetStatus"]["CurrentFailureCount"] >= 1
        assert report["OriginStatus"]["Status"] == "UP"
    finally:
        if p:
            p.stop()
        origin.stop()
        target.stop()


def test_clients_over_the_limit_are_closed_and_counted(origin, target):
    p = Proxy(origin, target, settings={"PROXY_MAX_CLIENT_CONNECTIONS": 1})
    try:
        first = socket.create_connection((p.host, p.port), timeout=10)
        # The first connection is registered once the proxy accepted it; wait for the gauge.
        wait_until(lambda: p.metric("zdm_client_connections_total") == 1, what="1 client")
        second = socket.create_connection((p.host, p.port), timeout=10)
        assert second.recv(16) == b""  # accepted, then closed without a CQL answer
        assert p.metric("zdm_proxy_rejected_client_connections_total") == 1
        first.close()
        second.close()
        wait_until(lambda: p.metric("zdm_client_connections_total") == 0, what="0 clients")
    finally:
        p.stop()

