#!/usr/bin/env bash
# Installs the Debian packages that building and testing zdm need, and only those missing.
# Idempotent: a second run installs nothing and does not touch the network.
# Usage: scripts/install-deps.sh   (as root, or with sudo available)
set -euo pipefail

packages=(
  # toolchain
  g++ cmake ninja-build pkg-config make
  # clang for the libFuzzer build (fuzzer runtime is in libclang-rt-14-dev); clang-format checks
  # the house style (ctest style.clang_format, `make format`)
  clang libclang-rt-14-dev clang-format
  # libraries
  libboost1.81-dev libssl-dev liblz4-dev libsnappy-dev zlib1g-dev
  libspdlog-dev libfmt-dev libyaml-cpp-dev nlohmann-json3-dev libcli11-dev libexpected-dev
  # the zdm binary's allocator (apps/zdm/CMakeLists.txt: migrate/validate CPU per row halves)
  libmimalloc-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
  # scripts/demo.sh and bench-proxy.sh: haproxy is the TCP-proxy baseline; jq, curl read reports
  haproxy jq curl
  # the independent protocol implementation used for golden bytes and interop tests
  python3 python3-cassandra python3-pytest python3-lz4 python3-snappy
  # certificates made at test time (TLS tests of the proxy and of zdm migrate)
  python3-cryptography
  # deploy/ checked with the real tools: Prometheus and promtool (rules, scraping), Ansible
  # (playbooks run against this machine), lintian (the .deb), Chromium (the status page),
  # systemd (systemd-analyze, systemd-sysusers: the unit and sysusers.d file);
  # python3-yaml reads the Kubernetes manifests
  prometheus ansible lintian chromium systemd python3-yaml
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "installed" ]] || missing+=("$p")
done

# Node.js runs the second independent driver's interop tests; a machine may already have a newer
# Node.js than Debian's (then it is used as is).
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  for p in nodejs npm; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [[ "$status" == "installed" ]] || missing+=("$p")
  done
fi

root=$(cd "$(dirname "$0")/.." && pwd)
install_npm_packages() {
  local dir="$root/tests/interop/nodejs"
  if [[ ! -d "$dir/node_modules/cassandra-driver" ]]; then
    echo "install-deps: npm packages for $dir"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all ${#packages[@]} packages present"
  install_npm_packages
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "install-deps: run as root (or install sudo)" >&2; exit 1; }
  sudo_cmd=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -q
"${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
install_npm_packages
