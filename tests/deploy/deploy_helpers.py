"""Shared helpers of the systemd, Kubernetes and Debian package tests (tests/deploy).

ctest `interop.deploy` sets ZDM_BIN (the built zdm) and ZDM_SOURCE_DIR (the checkout); run alone,
the defaults are this checkout and its build/ directory.
"""
import os
import re
import shutil
import subprocess
import sys

SOURCE_DIR = os.path.abspath(os.environ.get(
    "ZDM_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", "..")))
ZDM_BIN = os.path.abspath(os.environ.get(
    "ZDM_BIN", os.path.join(SOURCE_DIR, "build", "apps", "zdm", "zdm")))
DEPLOY = os.path.join(SOURCE_DIR, "deploy")

# tests/interop/zdm_procs.py: zdm node / zdm proxy processes.
sys.path.insert(0, os.path.join(SOURCE_DIR, "tests", "interop"))


def require_tool(name, package):
    """The path of tool `name`; fails the test (not skips) when it is missing."""
    path = shutil.which(name)
    if path is None:
        raise AssertionError("%s (Debian package %s) is missing: run scripts/install-deps.sh"
                             % (name, package))
    return path


def require_python_module(name, package):
    try:
        return __import__(name)
    except ImportError:
        raise AssertionError("Python module %s (Debian package %s) is missing: run "
                             "scripts/install-deps.sh" % (name, package))


def parse_unit(text):
    """A systemd unit file as {section: [(key, value), ...]} (keys may repeat)."""
    sections = {}
    current = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], [])
            continue
        key, _, value = line.partition("=")
        current.append((key.strip(), value.strip()))
    return sections


def unit_value(sections, section, key):
    """The last value of `key` in `section` (systemd: a later assignment wins), or None."""
    values = [v for k, v in sections.get(section, []) if k == key]
    return values[-1] if values else None


def parse_timespan_s(text):
    """A systemd time span ("45s", "1min 30s", "90") in seconds."""
    units = {"ms": 0.001, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "": 1}
    total = 0.0
    for number, unit in re.findall(r"(\d+(?:\.\d+)?)\s*([a-z]*)", text):
        total += float(number) * units[unit]
    return total


def scratch_root_for_verify(root):
    """Completes `root` so that `systemd-analyze verify --root` can load a unit in it: the system
    units its dependencies name (sysinit.target, network-online.target, ...) and /bin/kill
    (ExecReload) come from this host; the unit and /usr/bin/zdm are the caller's."""
    host_units = "/lib/systemd/system"
    units = os.path.join(root, "usr", "lib", "systemd", "system")
    os.makedirs(units, exist_ok=True)
    for name in os.listdir(host_units):
        src = os.path.join(host_units, name)
        dst = os.path.join(units, name)
        if os.path.lexists(dst):
            continue
        if os.path.islink(src):
            os.symlink(os.readlink(src), dst)
        elif os.path.isfile(src):
            shutil.copy2(src, dst)
    bin_dir = os.path.join(root, "bin")
    os.makedirs(bin_dir, exist_ok=True)
    kill = os.path.join(bin_dir, "kill")
    if not os.path.exists(kill):
        shutil.copy2(os.path.realpath(shutil.which("kill") or "/bin/kill"), kill)


def systemd_verify(root, unit_path, man_path=None):
    """`systemd-analyze verify` of `unit_path` (a path inside `root`): (exit status, output).
    Verify exits 0 even for unknown keys or bad values (it only prints them), so callers require
    the output to be empty too. The man pages of Documentation= are looked up by the host's man
    (not inside `root`): with `man_path` (e.g. root/usr/share/man) only there, else not at all."""
    tool = require_tool("systemd-analyze", "systemd")
    env = dict(os.environ)
    if man_path:
        env["MANPATH"] = man_path
    proc = subprocess.run([tool, "verify", "--man=%s" % ("yes" if man_path else "no"),
                           "--root=" + root, unit_path], env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=60)
    return proc.returncode, proc.stdout.strip()


def systemd_security(root, unit_path):
    """`systemd-analyze security --offline` of the unit: (overall exposure 0.0-10.0, output)."""
    tool = require_tool("systemd-analyze", "systemd")
    proc = subprocess.run([tool, "security", "--offline=true", "--no-pager", "--root=" + root,
                           unit_path], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=60)
    m = re.search(r"Overall exposure level for \S+: (\d+(?:\.\d+)?)", proc.stdout)
    assert m, "systemd-analyze security printed no exposure level:\n" + proc.stdout
    return float(m.group(1)), proc.stdout


def proxy_yaml_defaults(text):
    """The `#key: value` lines of deploy/debian/proxy.yaml: {key: value text} (value may be '')."""
    defaults = {}
    for line in text.splitlines():
        m = re.match(r"^#([a-z][a-z0-9_]*):(?: (.*))?$", line)
        if m:
            defaults[m.group(1)] = (m.group(2) or "").strip()
    return defaults
