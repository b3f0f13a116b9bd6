"""Build (or reuse) the lab-VM disk image: Debian 12 made with mmdebstrap, cached by recipe hash.

The recipe is data: suite, mirrors and apt settings read from the host, the package list, the
files written into the image and the host's local CA certificates. Its SHA-256 names the cache
folder, so a change to any of them builds a new image and an unchanged recipe reuses the old one.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from labvm import LOG_PREFIX

RECIPE_VERSION = 1
SUITE = "bookworm"
# Virtual size of the guest's root file system; the qcow2 only stores what is written.
DISK_SIZE = "8G"
HOSTNAME = "hermitlab"

# What the playbooks need before `make setup` runs. python3-venv and ca-certificates have slow
# post-install scripts under emulation (1-2 min each), so they are baked in, and so is
# python3-apt (scripts/bootstrap.sh installs it otherwise); python3-pip gives an early HTTPS
# check against pip's default index that names no host.
PACKAGES = (
    "linux-image-amd64",
    "systemd-sysv",
    "udev",
    "openssh-server",
    "python3",
    "python3-venv",
    "python3-pip",
    "python3-apt",
    "ca-certificates",
    "iproute2",
    "kmod",
    "ifupdown",
    "isc-dhcp-client",
    "sudo",
    "make",
    "rsync",
    "tar",
    "gzip",
    "procps",
)

# Documentation and translations cost build time and space and nothing reads them in the VM.
DPKG_OPTS = (
    "path-exclude=/usr/share/man/*",
    "path-exclude=/usr/share/locale/*",
    "path-include=/usr/share/locale/locale.alias",
    "path-exclude=/usr/share/doc/*",
    "path-include=/usr/share/doc/*/copyright",
)

# Files written into the image: path -> (mode, content).
STATIC_FILES: dict[str, tuple[int, str]] = {
    "/etc/fstab": (0o644, "/dev/vda / ext4 defaults,noatime 0 1\n"),
    "/etc/hostname": (0o644, f"{HOSTNAME}\n"),
    "/etc/hosts": (0o644, f"127.0.0.1 localhost\n127.0.1.1 {HOSTNAME}\n::1 localhost\n"),
    "/etc/network/interfaces": (
        0o644,
        "# written by labvm: the VM boots with net.ifnames=0, so QEMU's NIC is eth0\n"
        "auto lo\niface lo inet loopback\n\nauto eth0\niface eth0 inet dhcp\n",
    ),
    # Debian's pip already uses the system store; this makes it explicit for any other pip.
    "/etc/pip.conf": (0o644, "[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n"),
    "/etc/ssh/sshd_config.d/labvm.conf": (
        0o644,
        "PermitRootLogin prohibit-password\nPasswordAuthentication no\nUseDNS no\n",
    ),
}

# systemd units masked in the image: apt's daily timers would take the dpkg lock mid-playbook.
MASKED_UNITS = ("apt-daily.timer", "apt-daily-upgrade.timer")


class ImageError(RuntimeError):
    """The image could not be built; the message says what was seen and what was expected."""


@dataclass(frozen=True)
class Image:
    """A built image in the cache."""

    root: Path

    @property
    def disk(self) -> Path:
        return self.root / "lab.qcow2"

    @property
    def kernel(self) -> Path:
        return self.root / "vmlinuz"

    @property
    def initrd(self) -> Path:
        return self.root / "initrd.img"

    @property
    def ssh_key(self) -> Path:
        return self.root / "id_ed25519"

    def is_complete(self) -> bool:
        return all(p.is_file() for p in (self.disk, self.kernel, self.initrd, self.ssh_key))


# --- reading the host's apt and CA settings --------------------------------------------------


def _deb822_stanzas(text: str) -> list[dict[str, str]]:
    stanzas: list[dict[str, str]] = []
    current: dict[str, str] = {}
    last = None
    for raw in text.splitlines():
        if raw.lstrip().startswith("#"):
            continue
        if not raw.strip():
            if current:
                stanzas.append(current)
            current, last = {}, None
            continue
        if raw[0] in " \t" and last:
            current[last] += " " + raw.strip()
            continue
        key, _, value = raw.partition(":")
        last = key.strip().lower()
        current[last] = value.strip()
    if current:
        stanzas.append(current)
    return stanzas


def _is_debian_entry(suites: list[str], signed_by: str, suite: str) -> bool:
    if not any(s == suite or s.startswith((suite + "-", suite + "/")) for s in suites):
        return False
    # Third-party repositories carry their own keys, which the guest does not have.
    return not signed_by or "debian-archive-keyring" in signed_by


def host_apt_sources(etc_apt: Path = Path("/etc/apt"), suite: str = SUITE) -> list[str]:
    """One-line `deb URI SUITE COMPONENTS` entries for the host's Debian `suite` repositories."""
    entries: list[str] = []
    one_line = [etc_apt / "sources.list", *sorted((etc_apt / "sources.list.d").glob("*.list"))]
    for path in one_line:
        if not path.is_file():
            continue
        for raw in path.read_text(errors="replace").splitlines():
            line = raw.split("#", 1)[0].strip()
            if not line.startswith("deb "):
                continue
            options = ""
            match = re.match(r"deb\s+\[([^\]]*)\]\s+(.*)", line)
            rest = line[4:].strip()
            if match:
                options, rest = match.group(1), match.group(2)
            parts = rest.split()
            if len(parts) < 3:
                continue
            uri, dist, comps = parts[0], parts[1], parts[2:]
            signed = " ".join(o for o in options.split() if o.startswith("signed-by="))
            if _is_debian_entry([dist], signed, suite):
                entries.append(f"deb {uri} {dist} {' '.join(comps)}")
    for path in sorted((etc_apt / "sources.list.d").glob("*.sources")):
        for st in _deb822_stanzas(path.read_text(errors="replace")):
            if "deb" not in st.get("types", "").split():
                continue
            if st.get("enabled", "yes").lower() == "no":
                continue
            suites = st.get("suites", "").split()
            if not _is_debian_entry(suites, st.get("signed-by", ""), suite):
                continue
            comps = st.get("components", "main")
            for uri in st.get("uris", "").split():
                entries.extend(f"deb {uri} {s} {comps}" for s in suites)
    # Keep order, drop duplicates.
    return list(dict.fromkeys(entries))


def host_apt_conf_files(etc_apt: Path = Path("/etc/apt")) -> list[Path]:
    """The host's apt settings worth giving the guest: proxies and Acquire options.

    Files that run host programs (`*-Invoke`, `Pre-Install-Pkgs`) are left out: those programs
    are not in the guest. Credentials (auth.conf) are never copied.
    """
    chosen = []
    candidates = [etc_apt / "apt.conf", *sorted((etc_apt / "apt.conf.d").glob("*"))]
    for path in candidates:
        if not path.is_file():
            continue
        text = path.read_text(errors="replace")
        if re.search(r"Invoke|Pre-Install-Pkgs", text, re.IGNORECASE):
            continue
        if re.search(r"Acquire::|Proxy", text, re.IGNORECASE):
            chosen.append(path)
    return chosen


def host_ca_files(root: Path = Path("/usr/local/share/ca-certificates")) -> list[Path]:
    """The host's local CA certificates (what update-ca-certificates adds to the system store)."""
    if not root.is_dir():
        return []
    return sorted(p for p in root.rglob("*.crt") if p.is_file())


# --- the recipe ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recipe:
    suite: str
    mirrors: tuple[str, ...]
    apt_conf: tuple[tuple[str, str], ...]  # (file name, content)
    ca_certs: tuple[tuple[str, str], ...]  # (relative path, content)
    packages: tuple[str, ...] = PACKAGES
    dpkg_opts: tuple[str, ...] = DPKG_OPTS
    files: tuple[tuple[str, int, str], ...] = field(
        default_factory=lambda: tuple((p, m, c) for p, (m, c) in sorted(STATIC_FILES.items()))
    )
    masked_units: tuple[str, ...] = MASKED_UNITS
    disk_size: str = DISK_SIZE
    version: int = RECIPE_VERSION

    def as_json(self) -> str:
        data = {k: getattr(self, k) for k in self.__dataclass_fields__}
        return json.dumps(data, sort_keys=True, indent=1)

    @property
    def key(self) -> str:
        return hashlib.sha256(self.as_json().encode()).hexdigest()[:16]


def host_recipe() -> Recipe:
    """The recipe for this host. HERMITNET_LABVM_MIRROR (one or more `deb ...` lines or plain
    mirror URIs, separated by `;`) overrides the mirrors read from the host."""
    override = os.environ.get("HERMITNET_LABVM_MIRROR", "").strip()
    if override:
        mirrors = []
        for item in filter(None, (s.strip() for s in override.split(";"))):
            mirrors.append(item if item.startswith("deb ") else f"deb {item} {SUITE} main")
    else:
        mirrors = host_apt_sources()
    if not mirrors:
        raise ImageError(
            f"found no Debian '{SUITE}' repository in the host's /etc/apt/sources.list*; "
            "expected a Debian 12 host, or set HERMITNET_LABVM_MIRROR to a Debian mirror URI"
        )
    ca_root = Path("/usr/local/share/ca-certificates")
    ca = tuple(
        (str(p.relative_to(ca_root)), p.read_text(errors="replace")) for p in host_ca_files()
    )
    conf = tuple((p.name, p.read_text(errors="replace")) for p in host_apt_conf_files())
    return Recipe(suite=SUITE, mirrors=tuple(mirrors), apt_conf=conf, ca_certs=ca)


# --- the cache ---------------------------------------------------------------------------------


def cache_root() -> Path:
    """`$HERMITNET_LABVM_CACHE`, else `$XDG_CACHE_HOME/hermitnet/labvm`, else ~/.cache/..."""
    explicit = os.environ.get("HERMITNET_LABVM_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "hermitnet" / "labvm"


@contextlib.contextmanager
def _locked(root: Path):
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _log(msg: str) -> None:
    print(f"{LOG_PREFIX} {msg}", file=sys.stderr, flush=True)


def _run(cmd: list[str], what: str, **kwargs) -> None:
    result = subprocess.run(cmd, check=False, **kwargs)
    if result.returncode != 0:
        raise ImageError(f"{what} failed (exit {result.returncode}): {' '.join(cmd)}")


def ensure_image(rebuild: bool = False, recipe: Recipe | None = None) -> Image:
    """Return the cached image for this host's recipe, building it first when needed."""
    recipe = recipe or host_recipe()
    root = cache_root()
    image = Image(root / recipe.key)
    with _locked(root):
        if image.is_complete() and not rebuild:
            _log(f"image: cached {image.root}")
        else:
            if os.geteuid() != 0:
                raise ImageError("building the lab image needs root (mmdebstrap, chroot, mkfs)")
            build = root / f"{recipe.key}.build-{os.getpid()}"
            shutil.rmtree(build, ignore_errors=True)
            build.mkdir(parents=True)
            try:
                _build(recipe, build)
                shutil.rmtree(image.root, ignore_errors=True)
                build.rename(image.root)
            finally:
                shutil.rmtree(build, ignore_errors=True)
    # Images of older recipes are dead weight (~300 MB each): keep only this one.
    for old in clean_cache(keep=recipe.key):
        _log(f"image: removed the outdated image {old}")
    return image


def _build(recipe: Recipe, build: Path) -> None:
    started = time.monotonic()
    _log(f"image: building recipe {recipe.key} in {build} (mmdebstrap, a few minutes)")
    (build / "recipe.json").write_text(recipe.as_json())
    _run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "hermitnet-labvm",
         "-f", str(build / "id_ed25519")],
        "ssh-keygen",
    )
    conf_dir = build / "aptconf"
    conf_dir.mkdir()
    aptopts = []
    for name, text in recipe.apt_conf:
        (conf_dir / name).write_text(text if text.endswith("\n") else text + "\n")
        aptopts += ["--aptopt", str(conf_dir / name)]
    rootdir = build / "root"
    cmd = [
        "mmdebstrap", "--variant=minbase", "--mode=root", "--format=directory",
        f"--include={','.join(recipe.packages)}",
        *aptopts,
        *(f"--dpkgopt={opt}" for opt in recipe.dpkg_opts),
        recipe.suite, str(rootdir), *recipe.mirrors,
    ]
    _run(cmd, "mmdebstrap", stdin=subprocess.DEVNULL)
    _log(f"image: mmdebstrap done in {time.monotonic() - started:.0f} s")
    _customize(recipe, rootdir, (build / "id_ed25519.pub").read_text())
    _copy_boot_files(rootdir, build)
    raw = build / "lab.raw"
    _run(["truncate", "-s", recipe.disk_size, str(raw)], "truncate")
    _run(["mkfs.ext4", "-q", "-F", "-L", HOSTNAME, "-d", str(rootdir), str(raw)], "mkfs.ext4")
    shutil.rmtree(rootdir)
    _run(["qemu-img", "convert", "-c", "-O", "qcow2", str(raw), str(build / "lab.qcow2")],
         "qemu-img convert")
    raw.unlink()
    shutil.rmtree(conf_dir)
    size_mb = (build / "lab.qcow2").stat().st_size / 1e6
    _log(f"image: built in {time.monotonic() - started:.0f} s ({size_mb:.0f} MB qcow2)")


def _write(rootdir: Path, path: str, mode: int, content: str) -> None:
    target = rootdir / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(content)
    target.chmod(mode)


def _customize(recipe: Recipe, rootdir: Path, pubkey: str) -> None:
    for path, mode, content in recipe.files:
        _write(rootdir, path, mode, content)
    ssh_dir = rootdir / "root/.ssh"
    ssh_dir.mkdir(mode=0o700, exist_ok=True)
    ssh_dir.chmod(0o700)
    _write(rootdir, "/root/.ssh/authorized_keys", 0o600, pubkey)
    for unit in recipe.masked_units:
        link = rootdir / "etc/systemd/system" / unit
        link.parent.mkdir(parents=True, exist_ok=True)
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to("/dev/null")
    for rel, content in recipe.ca_certs:
        _write(rootdir, f"/usr/local/share/ca-certificates/{rel}", 0o644, content)
    _run(["chroot", str(rootdir), "update-ca-certificates"], "update-ca-certificates in the image",
         stdout=subprocess.DEVNULL)


def _copy_boot_files(rootdir: Path, build: Path) -> None:
    kernels = sorted((rootdir / "boot").glob("vmlinuz-*"))
    initrds = sorted((rootdir / "boot").glob("initrd.img-*"))
    if len(kernels) != 1 or len(initrds) != 1:
        raise ImageError(
            f"expected one kernel and one initrd in the image's /boot, found {kernels} {initrds}"
        )
    shutil.copyfile(kernels[0], build / "vmlinuz")
    shutil.copyfile(initrds[0], build / "initrd.img")


def clean_cache(keep: str | None = None) -> list[Path]:
    """Remove cached images (all, or all but `keep`). Returns what was removed."""
    root = cache_root()
    removed = []
    if not root.is_dir():
        return removed
    with _locked(root):
        for entry in root.iterdir():
            # runs/ holds the overlays of running VMs. Builds hold the lock: none is under way.
            if entry.name.startswith(".") or entry.name in (keep, "runs"):
                continue
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
                removed.append(entry)
    return removed
