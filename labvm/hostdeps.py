"""Host packages the lab-VM harness needs, checked by the commands they provide."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from labvm import LOG_PREFIX

# Debian package -> a command it provides. Kept in one place so the playbooks' dev/test role
# can list the same names.
HOST_PACKAGES: dict[str, str] = {
    "mmdebstrap": "mmdebstrap",
    "qemu-system-x86": "qemu-system-x86_64",
    "qemu-utils": "qemu-img",
    "openssh-client": "ssh",
    "e2fsprogs": "mkfs.ext4",
}


class HostDepsError(RuntimeError):
    """The host lacks something the harness needs and it could not be installed."""


def missing_packages(packages: dict[str, str] | None = None) -> list[str]:
    """Return the Debian packages whose command is not on PATH (sbin included)."""
    packages = HOST_PACKAGES if packages is None else packages
    path = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
    return [pkg for pkg, cmd in packages.items() if shutil.which(cmd, path=path) is None]


def ensure_host_packages(install: bool = True) -> None:
    """Install the missing host packages with apt-get, or raise HostDepsError saying why not."""
    missing = missing_packages()
    if not missing:
        return
    names = " ".join(missing)
    if not install:
        raise HostDepsError(f"missing host packages: {names} (install: apt-get install -y {names})")
    if os.geteuid() != 0:
        raise HostDepsError(f"missing host packages: {names}; run as root or install them first")
    if shutil.which("apt-get") is None:
        raise HostDepsError(f"missing host packages: {names}; no apt-get on this host")
    print(
        f"{LOG_PREFIX} installing missing host packages for the lab VM: {names} "
        "(the playbooks' dev/test role should provide these)",
        file=sys.stderr,
        flush=True,
    )
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    cmd = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing]
    if subprocess.run(cmd, env=env, check=False).returncode != 0:
        # The package lists may be missing or stale on a fresh machine: refresh once, retry.
        subprocess.run(["apt-get", "update", "-q"], env=env, check=False)
        if subprocess.run(cmd, env=env, check=False).returncode != 0:
            raise HostDepsError(f"apt-get install {names} failed")
    still = missing_packages()
    if still:
        raise HostDepsError(f"installed, but still missing commands of: {' '.join(still)}")
