"""Every object a run creates is recorded here before it exists, so any run can be cleaned up.

A manifest is a JSON file in the state directory (/run/hermitnet by default; gone at reboot like
the objects it names). `cleanup()` removes exactly what a manifest names, never anything else:
processes (checked by PID *and* start time, so a recycled PID is never killed), the netfilter
tables loaded inside a host (a censor's) while its shell holds the namespace, every process inside
a network namespace of the run's hosts, OVS bridges and root-namespace interfaces. It is safe to
run twice.

Each host's network namespace is recorded when the host is built, by its inode
(/proc/PID/ns/net) and the host's node name: what runs in a host is found through that even when
the host's shell is gone (a run killed with SIGKILL takes its host shells with it, while servers
started in the hosts live on in their namespaces). A process counts as in a recorded namespace
only while that namespace still holds the host's own interface (`NODE-eth...`, read from
/proc/PID/net/dev), so a namespace of someone else that reused a freed inode is never touched.

A run spread over several machines also records, per other machine, how to reach it (the ssh
command) and what it made there: bridges, root-namespace interfaces (tunnel ends included) and
the PIDs, with start times, of its node shells there, and its hosts' network namespaces.
`cleanup()` removes those over SSH with one shell script per machine (`remote_cleanup_script`)
that applies the same rules on that machine.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shlex
import signal
import subprocess
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

LOG = logging.getLogger("hermitnet.cleanup")
_SAVING = threading.Lock()   # measurements on the run's clock start processes from threads


def state_dir() -> Path:
    return Path(os.environ.get("HERMITNET_STATE_DIR", "/run/hermitnet"))


def process_start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot, or None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])


@dataclass
class Manifest:
    run_id: str
    owner_pid: int
    owner_start: int | None
    results_dir: str
    bridges: list[str] = field(default_factory=list)
    interfaces: list[str] = field(default_factory=list)
    processes: list[dict] = field(default_factory=list)   # {pid, start, what}
    tables: list[dict] = field(default_factory=list)      # {pid, start, family, table, what}
    namespaces: list[dict] = field(default_factory=list)  # {inode: "net:[...]", node}: hosts'
    controller_api: str | None = None                      # http://127.0.0.1:PORT
    api_token_path: str | None = None                      # when the API needs a token
    # other machines of a cluster run: {machine: {ssh: [argv], bridges, interfaces, processes,
    # namespaces}}
    machines: dict[str, dict] = field(default_factory=dict)

    @property
    def path(self) -> Path:
        return state_dir() / f"{self.run_id}.json"

    @classmethod
    def create(cls, run_id: str, results_dir: str) -> Manifest:
        manifest = cls(run_id, os.getpid(), process_start_time(os.getpid()), results_dir)
        manifest.save()
        return manifest

    @classmethod
    def load(cls, path: Path) -> Manifest:
        return cls(**json.loads(path.read_text()))

    def save(self) -> None:
        with _SAVING:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(asdict(self), indent=1))
            tmp.replace(self.path)

    def add_bridges(self, names) -> None:
        self.bridges.extend(n for n in names if n not in self.bridges)
        self.save()

    def add_interfaces(self, names) -> None:
        self.interfaces.extend(n for n in names if n not in self.interfaces)
        self.save()

    def add_process(self, pid: int, what: str) -> None:
        self.processes.append({"pid": pid, "start": process_start_time(pid), "what": what})
        self.save()

    def add_namespaces(self, hosts) -> None:
        """The network namespaces of hosts on this machine: `hosts` is (node name, shell PID)."""
        root = _netns(os.getpid())
        for node, pid in hosts:
            inode = _netns(pid)
            if inode is not None and inode != root:
                self.namespaces.append({"inode": inode, "node": node})
        self.save()

    def add_machine_objects(self, machine: str, ssh: list[str], *, bridges=(), interfaces=(),
                            processes=(), namespaces=()) -> None:
        """Record objects made on another machine (processes: {pid, start, what} there;
        namespaces: {inode, node} of its hosts there)."""
        entry = self.machines.setdefault(machine, {"ssh": list(ssh), "bridges": [],
                                                   "interfaces": [], "processes": []})
        entry["bridges"].extend(b for b in bridges if b not in entry["bridges"])
        entry["interfaces"].extend(i for i in interfaces if i not in entry["interfaces"])
        entry["processes"].extend(processes)
        entry.setdefault("namespaces", []).extend(namespaces)
        self.save()

    def add_table(self, holder_pid: int, family: str, table: str, what: str) -> None:
        """A netfilter table in the network namespace of `holder_pid` (a host's shell)."""
        self.tables.append({"pid": holder_pid, "start": process_start_time(holder_pid),
                            "family": family, "table": table, "what": what})
        self.save()

    def owner_alive(self) -> bool:
        start = process_start_time(self.owner_pid)
        return start is not None and start == self.owner_start


def list_manifests() -> list[Manifest]:
    directory = state_dir()
    if not directory.is_dir():
        return []
    manifests = []
    for path in sorted(directory.glob("*.json")):
        try:
            manifests.append(Manifest.load(path))
        except (OSError, ValueError, TypeError) as error:
            LOG.warning("unreadable manifest %s: %s", path, error)
    return manifests


def cleanup(manifest: Manifest) -> list[str]:
    """Remove what the manifest names; returns what was removed, in words."""
    removed = []
    for table in manifest.tables:   # first: the namespace goes with the processes holding it
        if table["start"] is not None and _same(table):
            _quiet(["nsenter", f"--net=/proc/{table['pid']}/ns/net", "nft", "delete", "table",
                    table["family"], table["table"]])
            removed.append(f"table {table['family']} {table['table']} ({table['what']})")
    live = [p for p in manifest.processes
            if p["start"] is not None and process_start_time(p["pid"]) == p["start"]]
    live += _strays(live)
    live += _in_namespaces(manifest.namespaces, {p["pid"] for p in live})
    _terminate(live)
    removed += [f"process {proc['pid']} ({proc['what']})" for proc in live]
    existing = set(_ovs_bridges())
    for bridge in manifest.bridges:
        if bridge in existing:
            _quiet(["ovs-vsctl", "--timeout=10", "--if-exists", "del-br", bridge])
            removed.append(f"bridge {bridge}")
    for intf in manifest.interfaces + manifest.bridges:
        if Path(f"/sys/class/net/{intf}").exists():
            _quiet(["ip", "link", "del", intf])
            removed.append(f"interface {intf}")
    for machine, entry in manifest.machines.items():
        removed += _cleanup_machine(machine, entry)
    manifest.path.unlink(missing_ok=True)
    return removed


def remote_cleanup_script(entry: dict, *, strays_only: bool = False) -> str:
    """A POSIX shell script that removes, on its own machine, what `entry` names.

    Processes only when their start time still matches, together with every process in their
    (non-root) network namespaces and in the recorded host namespaces (while a namespace still
    holds its host's interface, as in `cleanup`); then bridges and interfaces. Prints one line
    per removal. `strays_only`: only the other processes in those namespaces (what runs in a
    host goes before the host does)."""
    lines = ["root_ns=$(readlink /proc/$$/ns/net)", "spaces=''"]   # this shell: the root
    for proc in entry.get("processes", []):
        pid, start = int(proc["pid"]), int(proc["start"])
        lines += [
            f"if [ -r /proc/{pid}/stat ] && "
            f"[ \"$(sed 's/.*) //' /proc/{pid}/stat | cut -d' ' -f20)\" = {start} ]; then",
            f"  ns=$(readlink /proc/{pid}/ns/net)",
            "  [ \"$ns\" != \"$root_ns\" ] && spaces=\"$spaces $ns\"",
            *([] if strays_only else [f"  kill -9 {pid} && echo 'process {pid}'"]),
            "fi",
        ]
    hosts = [f"    {shlex.quote(n['inode'])}) node={shlex.quote(n['node'])};;"
             for n in entry.get("namespaces", [])]
    lines += [
        "for p in /proc/[0-9]*; do",
        "  ns=$(readlink $p/ns/net 2>/dev/null) || continue",
        "  [ \"$ns\" = \"$root_ns\" ] && continue",
        f"  case ' {' '.join(str(int(p['pid'])) for p in entry.get('processes', []))} ' in "
        "*\" ${p#/proc/} \"*) continue;; esac",
        "  node=''",
        *(["  case \"$ns\" in", *hosts, "  esac"] if hosts else []),
        "  case \" $spaces \" in *\" $ns \"*) node=.;; esac",
        "  [ -n \"$node\" ] || continue",
        "  if [ \"$node\" = . ] || grep -q \"^ *$node-eth[0-9]*:\" $p/net/dev 2>/dev/null; then",
        "    kill -9 ${p#/proc/} 2>/dev/null && "
        "echo \"process ${p#/proc/} (in a host's namespace)\"",
        "  fi",
        "done",
    ]
    if strays_only:
        return "\n".join(lines + ["exit 0", ""])
    for bridge in entry.get("bridges", []):
        lines.append(f"ovs-vsctl --timeout=10 br-exists {bridge} && "
                     f"ovs-vsctl --timeout=10 del-br {bridge} && echo 'bridge {bridge}'")
    for intf in [*entry.get("interfaces", []), *entry.get("bridges", [])]:
        lines.append(f"[ -e /sys/class/net/{intf} ] && ip link del {intf} && "
                     f"echo 'interface {intf}'")
    return "\n".join(lines + ["exit 0", ""])


def _cleanup_machine(machine: str, entry: dict) -> list[str]:
    try:
        done = subprocess.run([*entry["ssh"], "sh", "-s"], input=remote_cleanup_script(entry),
                              capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as error:
        LOG.warning("cleanup on %s: %s", machine, error)
        return [f"nothing on {machine}: cannot reach it ({error})"]
    if done.returncode != 0:
        LOG.warning("cleanup on %s: %s", machine, done.stderr.strip())
    return [f"{line} on {machine}" for line in done.stdout.splitlines() if line.strip()]


def stop_strays(pids: list[int]) -> list[str]:
    """Stop every process in the network namespaces of `pids` except `pids` themselves.

    For a run's host shells: whatever runs in a host (recorded or not) goes before the hosts do.
    The root namespace is never searched."""
    strays = _strays([{"pid": pid, "start": process_start_time(pid)} for pid in pids])
    _terminate(strays)
    return [f"process {p['pid']} ({p['what']})" for p in strays]


def _in_namespaces(namespaces: list[dict], known: set[int]) -> list[dict]:
    """Processes, other than `known`, in the recorded host namespaces ({inode, node}) that
    still hold their host's interface. The root namespace is never searched."""
    nodes = {n["inode"]: n["node"] for n in namespaces}
    nodes.pop(_netns(os.getpid()), None)
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in known:
            continue
        pid = int(entry)
        node = nodes.get(_netns(pid))
        if node is not None and node in _host_interfaces(pid):
            found.append({"pid": pid, "start": process_start_time(pid),
                          "what": f"process in the namespace of host {node}"})
    return found


def _host_interfaces(pid: int) -> set[str]:
    """Node names of the `NODE-ethN` interfaces in the network namespace of `pid`."""
    try:
        lines = Path(f"/proc/{pid}/net/dev").read_text().splitlines()[2:]
    except OSError:
        return set()
    names = (line.split(":", 1)[0].strip() for line in lines)
    return {name.rsplit("-eth", 1)[0] for name in names if "-eth" in name}


def _strays(procs: list[dict]) -> list[dict]:
    """Processes in the (non-root) network namespaces of `procs`, other than `procs`.

    A namespace is searched only while one of `procs` (alive, same start time) holds it, so it
    cannot be someone else's namespace that reused a freed one's inode."""
    spaces = {_netns(p["pid"]) for p in procs if _same(p)} - {None, _netns(os.getpid())}
    known = {p["pid"] for p in procs}
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) not in known and _netns(int(entry)) in spaces:
            pid = int(entry)
            found.append({"pid": pid, "start": process_start_time(pid),
                          "what": "unrecorded process in a host's namespace"})
    return found


def _terminate(procs: list[dict]) -> None:
    for proc in procs:
        _signal(proc["pid"], signal.SIGTERM)
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline and any(_running(p) for p in procs):
        time.sleep(0.05)
    for proc in procs:
        if _running(proc):
            _signal(proc["pid"], signal.SIGKILL)


def _netns(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/net")
    except OSError:
        return None


def _same(proc: dict) -> bool:
    return process_start_time(proc["pid"]) == proc["start"]


def _running(proc: dict) -> bool:
    """The same process, and not a zombie: a child of this process that has exited stays in
    /proc until it is waited for (its Popen does that later), and waiting for it to vanish
    would only wait out the deadline."""
    if not _same(proc):
        return False
    try:
        stat = Path(f"/proc/{proc['pid']}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def _ovs_bridges() -> list[str]:
    try:
        done = subprocess.run(["ovs-vsctl", "--timeout=5", "list-br"], capture_output=True,
                              text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return done.stdout.split() if done.returncode == 0 else []


def _quiet(argv: list[str]) -> None:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=15)
    except (OSError, subprocess.TimeoutExpired) as error:
        LOG.warning("%s: %s", " ".join(argv), error)
        return
    if done.returncode != 0:
        LOG.warning("%s: %s", " ".join(argv), done.stderr.strip())
