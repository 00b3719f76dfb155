"""deploy/kubernetes: the manifests parsed and checked against each other and against zdm (no
cluster here). The proxy pods' entrypoint runs for real under /bin/sh with stand-ins for the
cluster's DNS (getent) and for zdm, and the environment it builds is given to the real
`zdm proxy`; the probe paths are asked of a live proxy; the Job's flags of `zdm migrate --help`."""
import glob
import os
import re
import stat
import subprocess

import pytest

from deploy_helpers import DEPLOY, ZDM_BIN, require_python_module
from zdm_procs import Node, Proxy

K8S = os.path.join(DEPLOY, "kubernetes")
RUN_ID_FLAG = "--run-id"


def load_manifests():
    yaml = require_python_module("yaml", "python3-yaml")
    objects = {}
    files = {}
    for path in sorted(glob.glob(os.path.join(K8S, "*.yaml"))):
        with open(path) as f:
            docs = [d for d in yaml.safe_load_all(f) if d is not None]
        files[os.path.basename(path)] = docs
        for doc in docs:
            if doc["kind"] == "Kustomization":
                continue
            key = (doc["kind"], doc["metadata"]["name"])
            assert key not in objects, "%s defined twice" % (key,)
            objects[key] = doc
    return objects, files


OBJECTS, FILES = load_manifests()


def get(kind, name):
    assert (kind, name) in OBJECTS, "no %s %s in deploy/kubernetes" % (kind, name)
    return OBJECTS[(kind, name)]


def of_kind(kind):
    return [doc for (k, _), doc in OBJECTS.items() if k == kind]


STS = get("StatefulSet", "zdm-proxy")
JOB = get("Job", "zdm-migrate")
CONFIG = get("ConfigMap", "zdm-config")["data"]
SECRET = get("Secret", "zdm-credentials")
SECRET_KEYS = set(SECRET.get("stringData", {})) | set(SECRET.get("data", {}))
POD = STS["spec"]["template"]
PROXY = POD["spec"]["containers"][0]
JOB_POD = JOB["spec"]["template"]
MIGRATE = JOB_POD["spec"]["containers"][0]
REPLICAS = STS["spec"]["replicas"]


def selects(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def container_port(container, port):
    """The containerPort a probe or a Service's targetPort names (by name or number)."""
    for p in container.get("ports", []):
        if port in (p.get("name"), p["containerPort"]):
            return p["containerPort"]
    raise AssertionError("container %s has no port %r" % (container["name"], port))


def env_names(container):
    names = {e["name"] for e in container.get("env", [])}
    for source in container.get("envFrom", []):
        ref = source.get("configMapRef") or source.get("secretRef")
        kind = "ConfigMap" if "configMapRef" in source else "Secret"
        doc = get(kind, ref["name"])
        names |= set(doc.get("data", {})) | set(doc.get("stringData", {}))
    return names


def check_env_references(container):
    """Every configMapKeyRef / secretKeyRef / envFrom names an object and a key that exist."""
    for e in container.get("env", []):
        source = e.get("valueFrom", {})
        if "configMapKeyRef" in source:
            ref = source["configMapKeyRef"]
            assert ref["key"] in get("ConfigMap", ref["name"])["data"], (e["name"], ref)
        if "secretKeyRef" in source:
            ref = source["secretKeyRef"]
            secret = get("Secret", ref["name"])
            keys = set(secret.get("stringData", {})) | set(secret.get("data", {}))
            assert ref["key"] in keys, (e["name"], ref)
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            get("ConfigMap", source["configMapRef"]["name"])
        if "secretRef" in source:
            get("Secret", source["secretRef"]["name"])


def test_kustomization_lists_the_fleet_but_not_the_migration():
    kustomization = FILES["kustomization.yaml"][0]
    resources = kustomization["resources"]
    manifests = sorted(f for f in FILES if f != "kustomization.yaml")
    assert sorted(resources + ["migrate-job.yaml"]) == manifests


def test_labels_and_selectors_match_between_statefulset_services_and_pdb():
    pod_labels = POD["metadata"]["labels"]
    selector = STS["spec"]["selector"]["matchLabels"]
    assert selects(selector, pod_labels)

    headless = get("Service", STS["spec"]["serviceName"])
    assert headless["spec"]["clusterIP"] == "None"
    assert selects(headless["spec"]["selector"], pod_labels)
    client = get("Service", "zdm-proxy")
    assert client["spec"].get("type", "ClusterIP") == "ClusterIP"
    assert selects(client["spec"]["selector"], pod_labels)

    # One ClusterIP Service per pod, selecting exactly that pod by the label the StatefulSet
    # controller sets; as many as replicas and PROXY_FLEET_SIZE.
    assert int(CONFIG["PROXY_FLEET_SIZE"]) == REPLICAS
    per_pod = [s for s in of_kind("Service")
               if "statefulset.kubernetes.io/pod-name" in s["spec"].get("selector", {})]
    assert sorted(s["metadata"]["name"] for s in per_pod) == \
        ["zdm-proxy-%d" % i for i in range(REPLICAS)]
    for service in per_pod:
        name = service["metadata"]["name"]
        assert service["spec"]["selector"]["statefulset.kubernetes.io/pod-name"] == name
        assert service["spec"].get("clusterIP") != "None"
        labels = dict(pod_labels, **{"statefulset.kubernetes.io/pod-name": name})
        assert selects(service["spec"]["selector"], labels)
        other = dict(pod_labels, **{"statefulset.kubernetes.io/pod-name": "zdm-proxy-99"})
        assert not selects(service["spec"]["selector"], other)

    # Every Service's ports lead to the proxy's ports; CQL on the port the proxy listens on.
    for service in [headless, client] + per_pod:
        for port in service["spec"]["ports"]:
            container_port(PROXY, port["targetPort"])
    assert container_port(PROXY, "cql") == int(CONFIG["ZDM_PROXY_LISTEN_PORT"])
    assert [p["port"] for p in client["spec"]["ports"]] == [int(CONFIG["ZDM_PROXY_LISTEN_PORT"])]

    pdb = get("PodDisruptionBudget", "zdm-proxy")
    assert pdb["spec"]["selector"]["matchLabels"] == selector
    assert pdb["spec"].get("maxUnavailable") == 1 or \
        REPLICAS - int(pdb["spec"]["minAvailable"]) == 1

    # The migration's pods are not proxies: no proxy Service, selector or budget takes them.
    job_labels = JOB_POD["metadata"]["labels"]
    assert not selects(selector, job_labels)
    for service in of_kind("Service"):
        assert not selects(service["spec"]["selector"], job_labels), service["metadata"]["name"]


def test_probes_use_the_health_endpoints_on_the_admin_port():
    readiness, liveness = PROXY["readinessProbe"], PROXY["livenessProbe"]
    assert readiness["httpGet"]["path"] == "/health/readiness"
    assert liveness["httpGet"]["path"] == "/health/liveness"
    admin_port = int(CONFIG["ZDM_METRICS_PORT"])
    assert container_port(PROXY, readiness["httpGet"]["port"]) == admin_port
    assert container_port(PROXY, liveness["httpGet"]["port"]) == admin_port
    # The kubelet probes the pod IP: both listeners must not be bound to localhost.
    assert CONFIG["ZDM_METRICS_ADDRESS"] == "0.0.0.0"
    assert CONFIG["ZDM_PROXY_LISTEN_ADDRESS"] == "0.0.0.0"
    assert POD["metadata"]["annotations"]["prometheus.io/port"] == str(admin_port)


def test_probe_paths_answer_on_a_live_proxy():
    origin, target = Node(cluster_name="origin"), Node(cluster_name="target")
    proxy = Proxy(origin, target)
    try:
        for probe in ("readinessProbe", "livenessProbe"):
            status, body = proxy.http(PROXY[probe]["httpGet"]["path"])
            assert status == 200, (probe, status, body)
    finally:
        proxy.stop()
        origin.stop()
        target.stop()


def test_pods_run_unprivileged_with_resources_and_a_drain_budget():
    for pod, container in ((POD, PROXY), (JOB_POD, MIGRATE)):
        spec = pod["spec"]
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["runAsUser"] != 0
        sc = container["securityContext"]
        assert sc["readOnlyRootFilesystem"] is True
        assert sc["allowPrivilegeEscalation"] is False
        assert sc["capabilities"]["drop"] == ["ALL"]
        for kind in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(container["resources"][kind]), (container["name"], kind)
        # Service links would put ZDM_PROXY_SERVICE_HOST and the like into the environment,
        # which zdm reads as ZDM_* settings.
        assert spec["enableServiceLinks"] is False
    # One io thread per CPU of the limit (a pod sees every core of its node).
    assert int(CONFIG["ZDM_PROXY_THREADS"]) == int(PROXY["resources"]["limits"]["cpu"])
    # SIGTERM drains for up to ZDM_PROXY_REQUEST_TIMEOUT_MS + 2 s before the kubelet's SIGKILL.
    drain_s = (int(CONFIG["ZDM_PROXY_REQUEST_TIMEOUT_MS"]) + 2000) / 1000
    assert POD["spec"]["terminationGracePeriodSeconds"] > drain_s + 5


def test_every_referenced_variable_exists():
    for container in (PROXY, MIGRATE):
        check_env_references(container)
    # The topology settings come from the entrypoint, not from the ConfigMap.
    assert "ZDM_PROXY_TOPOLOGY_INDEX" not in CONFIG
    assert "ZDM_PROXY_TOPOLOGY_ADDRESSES" not in CONFIG
    script = PROXY["args"][0]
    defined = env_names(PROXY)
    for name in set(re.findall(r"\$\{?([A-Z][A-Z0-9_]*)", script)):
        assert name in defined or name.startswith("ZDM_PROXY_TOPOLOGY_"), name
    # $(VAR) in the Job's arguments: Kubernetes substitutes the container's variables.
    job_env = {e["name"] for e in MIGRATE["env"]}
    for arg in MIGRATE["args"]:
        for name in re.findall(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", arg):
            assert name in job_env, name
    # The proxy and the migration use the same credentials Secret.
    secrets = lambda c: {e["valueFrom"]["secretKeyRef"]["name"] for e in c["env"]  # noqa: E731
                         if "secretKeyRef" in e.get("valueFrom", {})}
    assert secrets(PROXY) == secrets(MIGRATE) == {"zdm-credentials"}
    assert {"ZDM_ORIGIN_PASSWORD", "ZDM_TARGET_PASSWORD", "ZDM_ADMIN_TOKEN"} <= SECRET_KEYS


def run_entrypoint(tmp_path, pod_name, hosts, fleet_size=None):
    """Runs the proxy container's command under /bin/sh with stand-ins on PATH: getent answers
    from `hosts` (name -> IP), sleep returns at once, and zdm writes its environment to a file.
    Returns (exit status, output, {variable: value} that zdm got or None)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    env_out = tmp_path / "zdm-env"
    if env_out.exists():
        env_out.unlink()
    lines = "".join('  %s) echo "%s       %s" ;;\n' % (name, ip, name) for name, ip in hosts.items())
    stubs = {
        "getent": '#!/bin/sh\n[ "$1" = hosts ] || exit 2\ncase "$2" in\n%s  *) exit 2 ;;\nesac\n'
                  % lines,
        "sleep": "#!/bin/sh\necho sleep >> %s\n" % (tmp_path / "sleeps"),
        "zdm": '#!/bin/sh\n[ "$*" = proxy ] || exit 3\nenv -0 > %s\n' % env_out,
    }
    for name, text in stubs.items():
        path = bin_dir / name
        path.write_text(text)
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    env = {"PATH": "%s:/usr/bin:/bin" % bin_dir, "POD_NAME": pod_name,
           "PROXY_FLEET_SIZE": fleet_size or CONFIG["PROXY_FLEET_SIZE"]}
    command = PROXY["command"] + PROXY["args"]
    assert command[:2] == ["/bin/sh", "-c"]
    proc = subprocess.run(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=30)
    got = None
    if env_out.exists():
        got = dict(item.split("=", 1) for item in env_out.read_text().split("\0") if item)
    return proc.returncode, proc.stdout, got


SERVICE_IPS = {"zdm-proxy-0": "10.96.0.20", "zdm-proxy-1": "10.96.0.21",
               "zdm-proxy-2": "10.96.0.22"}


def test_entrypoint_maps_the_ordinal_and_the_per_pod_service_ips(tmp_path):
    for ordinal in range(REPLICAS):
        rc, output, got = run_entrypoint(tmp_path, "zdm-proxy-%d" % ordinal, SERVICE_IPS)
        assert rc == 0 and got is not None, output
        assert got["ZDM_PROXY_TOPOLOGY_INDEX"] == str(ordinal)
        assert got["ZDM_PROXY_TOPOLOGY_ADDRESSES"] == "10.96.0.20,10.96.0.21,10.96.0.22"

    # A Service that does not resolve (yet): retried, then a clear failure.
    missing = {k: v for k, v in SERVICE_IPS.items() if k != "zdm-proxy-2"}
    rc, output, got = run_entrypoint(tmp_path, "zdm-proxy-0", missing)
    assert rc == 1 and got is None and "zdm-proxy-2 does not resolve" in output, output
    assert (tmp_path / "sleeps").read_text().count("sleep") == 29
    # A pod beyond the fleet size, and a name without an ordinal.
    rc, output, got = run_entrypoint(tmp_path, "zdm-proxy-3", SERVICE_IPS)
    assert rc == 2 and got is None and "PROXY_FLEET_SIZE" in output, output
    rc, output, got = run_entrypoint(tmp_path, "zdm-proxy", SERVICE_IPS)
    assert rc == 2 and got is None, output


def test_entrypoint_environment_is_a_valid_proxy_configuration(tmp_path):
    """ConfigMap + Secret + what the entrypoint derives, given to the real zdm proxy: it must
    load without an unknown variable and without a validation error. The clusters are not
    reachable here, so with --startup-timeout the proxy gives up (exit 1) after loading."""
    rc, output, got = run_entrypoint(tmp_path, "zdm-proxy-1", SERVICE_IPS)
    assert rc == 0, output
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZDM_")}
    env.update(CONFIG)
    env.update({k: str(v) for k, v in SECRET["stringData"].items()})
    env.update({k: v for k, v in got.items() if k.startswith("ZDM_PROXY_TOPOLOGY_")})
    # Only what cannot work on this machine: closed local ports instead of the cluster names,
    # and free ports instead of 9042/14001.
    env.update({"ZDM_ORIGIN_CONTACT_POINTS": "127.0.0.1", "ZDM_ORIGIN_PORT": "1",
                "ZDM_TARGET_CONTACT_POINTS": "127.0.0.1", "ZDM_TARGET_PORT": "1",
                "ZDM_PROXY_LISTEN_PORT": "0", "ZDM_METRICS_PORT": "0"})
    proc = subprocess.run([ZDM_BIN, "proxy", "--startup-timeout", "1"], env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60)
    assert proc.returncode == 1, proc.stdout
    assert "invalid configuration" not in proc.stdout
    assert "ignoring unknown environment variable" not in proc.stdout, proc.stdout
    effective = re.search(r"effective configuration: (\{.*\})", proc.stdout)
    assert effective, proc.stdout
    assert '"proxy_topology_index":1,' in effective.group(1)
    assert '"proxy_topology_addresses":"10.96.0.20,10.96.0.21,10.96.0.22"' in effective.group(1)


def test_migration_is_an_indexed_job_whose_workers_share_one_run():
    spec = JOB["spec"]
    assert spec["completionMode"] == "Indexed"
    assert spec["parallelism"] >= 2
    assert spec["completions"] == spec["parallelism"]
    args = MIGRATE["args"]
    assert MIGRATE["command"] == ["/usr/bin/zdm"] and args[0] == "migrate"
    # The run id: one literal value for every pod (not the pod name, the completion index or
    # anything else that differs between workers).
    run_id_arg = args[args.index(RUN_ID_FLAG) + 1]
    m = re.fullmatch(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", run_id_arg)
    if m:
        (entry,) = [e for e in MIGRATE["env"] if e["name"] == m.group(1)]
        assert "value" in entry and "valueFrom" not in entry, entry
        run_id = entry["value"]
    else:
        run_id = run_id_arg
    assert run_id and "JOB_COMPLETION_INDEX" not in run_id and "$" not in run_id
    # Exit status 2 (configuration, credentials, schema) fails the Job instead of retrying.
    rules = spec["podFailurePolicy"]["rules"]
    assert any(r["action"] == "FailJob" and 2 in r["onExitCodes"]["values"] for r in rules)
    assert JOB_POD["spec"]["restartPolicy"] == "Never"  # what podFailurePolicy requires
    # The metrics port is the container's and listens on the pod IP.
    port = args[args.index("--metrics-port") + 1]
    assert container_port(MIGRATE, int(port)) == int(port)
    assert JOB_POD["metadata"]["annotations"]["prometheus.io/port"] == port
    # Same image as the proxies.
    assert MIGRATE["image"] == PROXY["image"]


def test_job_flags_exist_in_zdm_migrate():
    help_text = subprocess.run([ZDM_BIN, "migrate", "--help"], stdout=subprocess.PIPE,
                               text=True, timeout=30).stdout
    flags = {a for a in MIGRATE["args"] if a.startswith("--")}
    assert RUN_ID_FLAG in flags
    for flag in flags:
        assert re.search(r"(^|[ ,])%s\b" % re.escape(flag), help_text, re.M), flag
