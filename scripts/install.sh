#!/usr/bin/env bash
# Install everything lab_kit needs on a fresh Debian 12 / Ubuntu 22.04+ machine, as root.
#
# One script for the README, .ci/run and the Vagrantfile's provisioner. It is idempotent:
# system packages are installed only when one is missing, and the project virtual
# environment (.venv) is rebuilt only when pyproject.toml changed, so a second run takes
# about a second and changes nothing.
#
#   scripts/install.sh             system packages + .venv with what the labs need (no test
#                                  tools: a learner's machine gets JupyterLab and lab_kit)
#   scripts/install.sh --test      also what the test suite needs (pytest, nbval, ruff, mypy
#                                  in .venv; vagrant, for `vagrant validate`)
#   scripts/install.sh --venv-only only .venv, with the test tools (no root needed: what
#                                  `./kit unit` needs; the machine must have python3 with venv)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
with_test=0 venv_only=0
for arg in "$@"; do
  case "$arg" in
    --test) with_test=1 ;;
    --venv-only) venv_only=1 ;;
    -h|--help) sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install.sh: unknown option: $arg (try --help)" >&2; exit 2 ;;
  esac
done

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

if [ "$venv_only" = 0 ] && [ "$(id -u)" != 0 ]; then
  echo "install.sh: run as root (the lab builds network namespaces): sudo $0 $*" >&2
  exit 1
fi

# --- 1. System packages --------------------------------------------------------------
# mininet: mnexec and the Python-independent helpers; net-tools: ifconfig, which Mininet calls;
# wrk: the HTTP load generator of benchmarks/clusterip_rps.py; dnsperf and dnsmasq-base (the
# binary only: no system service listening on :53): benchmarks/dns_qps.py's load and peer.
# catatonit: the pods' pause process (a static PID 1, what podman uses as its pause);
# util-linux's unshare, nsenter and setpriv start containers and `labkit exec` into them.
# nginx: the ingress controller's data plane and the server of the nginx images; it runs only
# inside pods (see below).
packages=(
  python3 python3-venv python3-dev gcc util-linux catatonit
  mininet net-tools bridge-utils iproute2 iptables nftables conntrack tcpdump
  graphviz curl dnsutils iputils-ping netcat-openbsd jq procps ca-certificates git wrk
  dnsperf dnsmasq-base nginx
)

missing=()
[ "$venv_only" = 1 ] && packages=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  say "Installing system packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  # Debian's nginx package starts and enables a system nginx on port 80 of the machine's own
  # network namespace; the lab's nginx runs only inside pods, and the root namespace stays
  # as it was. While apt installs it, a policy-rc.d that refuses (exit 101) keeps invoke-rc.d
  # from starting any service (only if the machine has no policy of its own; removed after,
  # also on failure); then the service is disabled so that a boot does not start it either.
  policy=/usr/sbin/policy-rc.d our_policy=0
  if [[ " ${missing[*]} " == *" nginx "* ]] && [ ! -e "$policy" ]; then
    our_policy=1
    trap 'rm -f "$policy"' EXIT
    printf '#!/bin/sh\n# lab_kit scripts/install.sh: no service starts while it installs\nexit 101\n' \
      > "$policy"
    chmod 755 "$policy"
  fi
  # --no-install-recommends: apt's mininet recommends Open vSwitch, vagrant recommends libvirt
  # and a kernel; the lab needs none of them.
  apt-get install -y -q --no-install-recommends "${missing[@]}"
  if [[ " ${missing[*]} " == *" nginx "* ]]; then
    if [ "$our_policy" = 1 ]; then
      rm -f "$policy"
      trap - EXIT
    fi
    if command -v systemctl >/dev/null; then
      systemctl disable --now nginx 2>/dev/null || systemctl disable nginx || true
    fi
  fi
fi

# The test suite runs `vagrant validate` on the Vagrantfile. Debian packages vagrant; newer
# Ubuntu releases no longer do, and there the Vagrantfile test is skipped (with a reason).
if [ "$with_test" = 1 ] && [ "$venv_only" = 0 ] && ! command -v vagrant >/dev/null; then
  if apt-cache show vagrant >/dev/null 2>&1; then
    say "Installing vagrant (for the Vagrantfile test)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends vagrant
  else
    say "vagrant is not in this distribution's archive; the Vagrantfile test will be skipped"
  fi
fi

# --- 2. Project virtual environment -----------------------------------------------------
venv="$here/.venv"
stamp="$venv/.lab_kit-installed"
# The stamp says what was installed for which pyproject.toml: "<hash> lab" or "<hash> dev"
# (dev = lab + the test tools); a lab install is satisfied by either, a test install by dev.
hash=$(cat "$here/pyproject.toml" "$here/scripts/install.sh" | sha256sum | cut -d' ' -f1)
if [ "$with_test" = 1 ] || [ "$venv_only" = 1 ]; then mode=dev; extras="[dev]"; else mode=lab; extras=""; fi
if [ -f "$stamp" ] && [ -x "$venv/bin/labkit" ]; then
  read -r have_hash have_mode < "$stamp" || true
  if [ "$have_hash" = "$hash" ] && { [ "$have_mode" = dev ] || [ "$mode" = lab ]; }; then
    exit 0
  fi
fi
if [ ! -x "$venv/bin/python" ]; then
  say "Creating the virtual environment in $venv"
  # Debian's own python3, so a fresh machine and this one build the same venv.
  python=/usr/bin/python3
  [ -x "$python" ] || python=$(command -v python3)
  "$python" -m venv "$venv"
fi
say "Installing lab_kit and its Python dependencies into $venv"
"$venv/bin/pip" install -q --disable-pip-version-check --upgrade pip
"$venv/bin/pip" install -q --disable-pip-version-check -e "$here$extras"
echo "$hash $mode" > "$stamp"
say "Done: $venv/bin/labkit is ready"
