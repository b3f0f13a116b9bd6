#!/usr/bin/env bash
# Bootstrap the one install path: make sure the system Python can create virtual
# environments, then put a pinned ansible-core and ansible-lint into .ansible-venv/.
# Everything else (Open vSwitch, Mininet, the project's .venv) is the playbook's job.
#
# Usage: scripts/bootstrap.sh [--with-lint]   (as root; the Makefile calls it). --with-lint
# also installs ansible-lint (make lint, make test); a lab (make setup, make demo, the lab VM)
# does without it. Each part is skipped while its requirements file is unchanged.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$repo/.ansible-venv"
requirements="$repo/playbooks/ansible-requirements.txt"
stamp="$venv/.hermitnet-bootstrap"
# The system interpreter, never whatever python3 comes first on PATH (pyenv, conda...).
python=/usr/bin/python3

if [ "$(id -u)" -ne 0 ]; then
  echo "bootstrap: run as root (sudo make ...): it installs system packages." >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "bootstrap: apt-get not found; supported systems are Debian 12, Ubuntu 22.04 and 24.04." >&2
  exit 1
fi

# python3-venv: Debian/Ubuntu's /usr/bin/python3 has no ensurepip without it.
# python3-apt: Ansible's apt module runs under /usr/bin/python3 and needs it.
missing=()
for pkg in python3 python3-venv python3-apt ca-certificates; do
  if [ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null)" != "install ok installed" ]; then
    missing+=("$pkg")
  fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "bootstrap: installing ${missing[*]} with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y --no-install-recommends "${missing[@]}"
fi

# Recreate the venv when it was not made by the system interpreter (or is broken).
if [ -d "$venv" ] && ! grep -qx 'home = /usr/bin' "$venv/pyvenv.cfg" 2>/dev/null; then
  echo "bootstrap: $venv was not made by $python; recreating it"
  rm -rf "$venv"
fi
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import sys' >/dev/null 2>&1; then
  rm -rf "$venv"
  echo "bootstrap: creating $venv with $python ($("$python" --version))"
  "$python" -m venv "$venv"
fi

install() { # requirements-file stamp-file: pip install unless the stamp matches the file
  local want
  want="$(sha256sum "$1" | cut -d' ' -f1)"
  if [ -f "$2" ] && [ "$(cat "$2")" = "$want" ]; then
    return 0
  fi
  echo "bootstrap: installing $(grep -v '^#' "$1" | tr '\n' ' ')into $venv"
  "$venv/bin/python" -m pip install --disable-pip-version-check -q -r "$1"
  echo "$want" >"$2"
}

install "$requirements" "$stamp"
# Not `| head -n1`: under pipefail, ansible can die of SIGPIPE when head exits first.
version="$("$venv/bin/ansible-playbook" --version)"
echo "${version%%$'\n'*}"
if [ "${1:-}" = "--with-lint" ]; then
  install "$repo/playbooks/lint-requirements.txt" "$venv/.hermitnet-bootstrap-lint"
fi
