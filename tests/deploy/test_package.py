"""The Debian package (make package -> scripts/package-deb.sh), built here from the tested zdm
binary: its control fields and files (dpkg-deb), lintian with no errors (the overrides in
deploy/debian/lintian-overrides, each one needed), and a real install into a scratch root with
dpkg (maintainer scripts run chroot-less against $DPKG_ROOT): the binary runs, the user exists,
the installed unit passes systemd-analyze verify, and remove/purge treat the conffile right."""
import glob
import gzip
import os
import re
import subprocess

import pytest

from deploy_helpers import (DEPLOY, SOURCE_DIR, ZDM_BIN, require_tool, scratch_root_for_verify,
                            systemd_verify)

SCRIPT = os.path.join(SOURCE_DIR, "scripts", "package-deb.sh")


def run(*args, **kwargs):
    kwargs.setdefault("timeout", 120)
    return subprocess.run(list(args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          **kwargs)


def read(path, mode="r"):
    with open(path, mode) as f:
        return f.read()


@pytest.fixture(scope="module")
def deb(tmp_path_factory):
    for tool, package in [("dpkg-deb", "dpkg"), ("dpkg-shlibdeps", "dpkg-dev"),
                          ("strip", "binutils"), ("lintian", "lintian")]:
        require_tool(tool, package)
    out = tmp_path_factory.mktemp("deb")
    proc = run(SCRIPT, "--binary", ZDM_BIN, "--output-dir", str(out))
    assert proc.returncode == 0, proc.stdout
    path = proc.stdout.strip().splitlines()[-1]
    assert os.path.isfile(path), proc.stdout
    return path


@pytest.fixture(scope="module")
def versions():
    upstream = run(ZDM_BIN, "--version").stdout.strip().split()[-1]
    changelog_version = re.match(r"zdm \(([^)]+)\)",
                                 read(os.path.join(DEPLOY, "debian", "changelog"))).group(1)
    arch = run("dpkg", "--print-architecture").stdout.strip()
    return upstream, changelog_version, arch


def field(deb, name):
    return run("dpkg-deb", "--field", deb, name).stdout.strip()


def expected_share_files():
    files = {"usr/share/zdm/dashboards/" + os.path.basename(p)
             for p in glob.glob(os.path.join(DEPLOY, "grafana", "dashboards", "*.json"))}
    prometheus = os.path.join(DEPLOY, "prometheus")
    for p in glob.glob(os.path.join(prometheus, "**", "*.yml"), recursive=True):
        if not p.endswith("_test.yml"):
            files.add("usr/share/zdm/prometheus/" + os.path.relpath(p, prometheus))
    return files


def test_control_fields_and_name(deb, versions):
    upstream, changelog_version, arch = versions
    assert changelog_version.startswith(upstream + "-")
    assert os.path.basename(deb) == "zdm_%s_%s.deb" % (changelog_version, arch)
    assert field(deb, "Package") == "zdm"
    assert field(deb, "Version") == changelog_version
    assert field(deb, "Architecture") == arch
    assert re.fullmatch(r".+ <[^@ ]+@[^@ ]+>", field(deb, "Maintainer"))
    assert field(deb, "Section") and field(deb, "Priority") == "optional"
    assert int(field(deb, "Installed-Size")) > os.path.getsize(ZDM_BIN) // 1024 // 4
    # Depends: a package for every shared library the binary needs (dpkg-shlibdeps).
    depends = field(deb, "Depends")
    needed = re.findall(r"\(NEEDED\).*\[(.+)\]", run("readelf", "-d", ZDM_BIN).stdout)
    assert needed
    owners = {}  # library -> its package, from one `dpkg -S` over all of them
    for line in run("dpkg", "-S", *["*/" + lib for lib in needed]).stdout.splitlines():
        package, _, path = line.partition(": ")
        # Other architectures' copies (libc6-i386's /lib32/libm.so.6) are not what the binary uses.
        if re.search(r"/(lib32|libx32|lib64)/", path):
            continue
        owners.setdefault(os.path.basename(path), package.split(":")[0])
    for lib in needed:
        owner = owners.get(lib)
        assert owner and re.search(r"(^|, )%s\b" % re.escape(owner), depends), (lib, owner, depends)
    info = run("dpkg-deb", "--info", deb).stdout
    for script in ("postinst", "prerm", "postrm", "conffiles", "md5sums"):
        assert re.search(r"\s%s\s" % script, info), script


def test_files_and_their_contents(deb, tmp_path):
    listing = run("dpkg-deb", "--contents", deb).stdout
    entries = {}
    for line in listing.splitlines():
        mode, owner, _size, _date, _time, name = line.split(None, 5)
        entries[name.removeprefix("./").rstrip("/")] = (mode, owner)
    assert all(owner == "root/root" for _, owner in entries.values())
    expected = {
        "usr/bin/zdm": "-rwxr-xr-x",
        "lib/systemd/system/zdm-proxy.service": "-rw-r--r--",
        "usr/lib/sysusers.d/zdm.conf": "-rw-r--r--",
        "etc/zdm/proxy.yaml": "-rw-r--r--",
        "usr/share/doc/zdm/copyright": "-rw-r--r--",
        "usr/share/doc/zdm/changelog.Debian.gz": "-rw-r--r--",
        "usr/share/man/man1/zdm.1.gz": "-rw-r--r--",
        "usr/share/lintian/overrides/zdm": "-rw-r--r--",
    }
    for name, mode in expected.items():
        assert name in entries, "%s missing from the package:\n%s" % (name, listing)
        assert entries[name][0] == mode, (name, entries[name])
    # The monitoring files are whatever deploy/ holds at package time, nothing more.
    share = {n for n, (mode, _) in entries.items()
             if n.startswith("usr/share/zdm/") and not mode.startswith("d")}
    assert share == expected_share_files()

    unpacked = tmp_path / "x"
    assert run("dpkg-deb", "-x", deb, str(unpacked)).returncode == 0
    control = tmp_path / "control"
    assert run("dpkg-deb", "-e", deb, str(control)).returncode == 0
    assert read(control / "conffiles") == "/etc/zdm/proxy.yaml\n"
    for name, source in [("lib/systemd/system/zdm-proxy.service", "systemd/zdm-proxy.service"),
                         ("usr/lib/sysusers.d/zdm.conf", "systemd/zdm.conf"),
                         ("etc/zdm/proxy.yaml", "debian/proxy.yaml"),
                         ("usr/share/doc/zdm/copyright", "debian/copyright")]:
        assert read(unpacked / name) == read(os.path.join(DEPLOY, source)), name
    for script in ("postinst", "prerm", "postrm"):
        assert read(control / script) == read(os.path.join(DEPLOY, "debian", script))
    changelog = gzip.decompress(read(unpacked / "usr/share/doc/zdm/changelog.Debian.gz", "rb"))
    assert changelog.decode() == read(os.path.join(DEPLOY, "debian", "changelog"))
    # Stripped: no symbol table, smaller than the build's binary.
    sections = run("readelf", "-S", str(unpacked / "usr/bin/zdm")).stdout
    assert ".symtab" not in sections and ".debug_" not in sections
    # md5sums covers every file.
    sums = read(control / "md5sums").splitlines()
    files = {n for n, (mode, _) in entries.items() if not mode.startswith("d")}
    assert {line.split(None, 1)[1] for line in sums} == files


def test_lintian_finds_no_errors(deb):
    proc = run("lintian", "--display-info", "--show-overrides", "--pedantic", deb, timeout=300)
    lines = [line for line in proc.stdout.splitlines() if re.match(r"^[EWIPXO]: ", line)]
    print("lintian:\n" + "\n".join(lines))
    errors = [line for line in lines if line.startswith("E: ")]
    assert not errors and proc.returncode == 0, proc.stdout
    # Every documented override is still needed (lintian reports it as overridden).
    overridden = {line.split()[2] for line in lines if line.startswith("O: ")}
    overrides = [line.split()[2] for line in read(os.path.join(DEPLOY, "debian",
                                                                "lintian-overrides")).splitlines()
                 if line.strip() and not line.startswith("#")]
    assert overrides and set(overrides) <= overridden, (overrides, overridden)


def dpkg(root, *args):
    return run("dpkg", "--root=" + root, "--force-script-chrootless", "--force-depends",
               "--log=/dev/null", *args)


def test_installs_into_a_scratch_root_and_removes_cleanly(deb, versions, tmp_path):
    require_tool("systemd-sysusers", "systemd")
    root = str(tmp_path / "root")
    for d in ("info", "updates", "triggers"):
        os.makedirs(os.path.join(root, "var", "lib", "dpkg", d))
    open(os.path.join(root, "var", "lib", "dpkg", "status"), "w").close()

    proc = dpkg(root, "--install", deb)
    assert proc.returncode == 0, proc.stdout
    assert "Setting up zdm (%s)" % versions[1] in proc.stdout
    status = read(os.path.join(root, "var", "lib", "dpkg", "status"))
    assert "Status: install ok installed" in status
    assert re.search(r"Conffiles:\n /etc/zdm/proxy.yaml [0-9a-f]{32}\n", status), status

    # The stripped binary runs.
    assert run(os.path.join(root, "usr", "bin", "zdm"), "--version").stdout.strip() == \
        "zdm " + versions[0]

    # postinst: the user and group zdm (systemd-sysusers --root), the configuration readable by
    # root and that group only.
    passwd = dict((line.split(":")[0], line.split(":")) for line in
                  read(os.path.join(root, "etc", "passwd")).splitlines())
    groups = dict((line.split(":")[0], line.split(":")) for line in
                  read(os.path.join(root, "etc", "group")).splitlines())
    assert "zdm" in passwd and "zdm" in groups
    assert passwd["zdm"][6] in ("/usr/sbin/nologin", "/sbin/nologin")
    config = os.stat(os.path.join(root, "etc", "zdm", "proxy.yaml"))
    assert oct(config.st_mode & 0o777) == "0o640"
    assert config.st_uid == 0 and config.st_gid == int(groups["zdm"][2])

    # The installed unit, with the installed binary and man page (Documentation=man:zdm(1)).
    scratch_root_for_verify(root)
    rc, output = systemd_verify(root, "/lib/systemd/system/zdm-proxy.service",
                                man_path=os.path.join(root, "usr", "share", "man"))
    assert rc == 0 and output == "", output

    # An edited configuration survives removal; purge removes it (a conffile).
    with open(os.path.join(root, "etc", "zdm", "proxy.yaml"), "a") as f:
        f.write("origin_contact_points: 10.0.0.1\n")
    proc = dpkg(root, "--remove", "zdm")
    assert proc.returncode == 0, proc.stdout
    assert not os.path.exists(os.path.join(root, "usr", "bin", "zdm"))
    assert not os.path.exists(os.path.join(root, "lib", "systemd", "system", "zdm-proxy.service"))
    assert "10.0.0.1" in read(os.path.join(root, "etc", "zdm", "proxy.yaml"))
    proc = dpkg(root, "--purge", "zdm")
    assert proc.returncode == 0, proc.stdout
    assert not os.path.exists(os.path.join(root, "etc", "zdm", "proxy.yaml"))


def test_make_package_builds_only_zdm_then_packages():
    proc = run("make", "-n", "-C", SOURCE_DIR, "package")
    assert proc.returncode == 0, proc.stdout
    lines = proc.stdout.splitlines()
    build = [i for i, line in enumerate(lines) if "cmake --build" in line]
    package = [i for i, line in enumerate(lines) if "scripts/package-deb.sh" in line]
    assert build and package and build[-1] < package[0], proc.stdout
    assert "--target zdm" in lines[build[-1]]
