"""Parameter sweeps: one scenario over a grid of one or two `--set KEY=V1,V2,...` overrides.

A KEY is a dotted path into the scenario document (after its `extends` chain is merged). Over a
list, an integer segment picks one entry (`radio.jammers.0.power_dbm`, also written
`radio.jammers[0].power_dbm` as in error messages), any other segment applies to every entry
(`radio.jammers.power_dbm`), and a final `count` keeps the first N entries
(`radio.jammers.count=0,1,2`); a missing mapping key is created. Values are read as YAML
scalars (30, 0.5, true, name).

Each point of the grid (every combination of the values, the last key varying fastest) is
loaded by `hermitnet.scenario` like any scenario file before the first point runs, so a value
that makes it invalid fails naming the field. A row holds the point's values, the radio model's
population shares (`hermitnet.radio.sweep`) and, when emulated, what one run of that point
measured (needs root).

With an output folder, the sweep keeps its own books there: `sweep-spec.json` (what is swept,
with a digest of the scenario) and `points.jsonl` (one line per finished point, written as it
finishes). `resume=True` re-reads them and runs only the points not yet finished.
"""

from __future__ import annotations

import copy
import csv
import hashlib
import itertools
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from hermitnet import scenario
from hermitnet.errors import HermitError
from hermitnet.radio.sweep import radio_columns
from hermitnet.schema_check import dotted

MAX_KEYS = 2           # a grid of one or two parameters
SPEC_FILE = "sweep-spec.json"
POINTS_FILE = "points.jsonl"


@dataclass(frozen=True)
class Assignment:
    key: str
    values: tuple
    text: str = ""    # as given on the command line

    @property
    def path(self) -> list[str]:
        return _segments(self.key)


def _segments(key: str) -> list[str]:
    return re.sub(r"\[(\d+)\]", r".\1", key).split(".")


def parse_assignment(text: str) -> Assignment:
    """`KEY=V1,V2,...` -> Assignment; each value is a YAML scalar."""
    key, sep, values_text = text.partition("=")
    key = key.strip()
    if not sep or not key or not values_text.strip():
        raise HermitError(
            f"expected KEY=V1,V2,... (e.g. radio.jammers.power_dbm=30,40), got {text!r}"
        )
    if any(not part for part in _segments(key)):
        raise HermitError(f"empty segment in dotted key {key!r}")
    values = tuple(yaml.safe_load(part) for part in values_text.split(",") if part.strip())
    return Assignment(key=key, values=values, text=text)


def grid(assignments: list[Assignment]) -> list[dict]:
    """Every point of the grid, [{KEY1: v1, KEY2: v2}, ...], the last key varying fastest."""
    if not 1 <= len(assignments) <= MAX_KEYS:
        raise HermitError(f"a sweep takes one or two --set KEY=V1,V2,... (got {len(assignments)})",
                          field="--set")
    keys = [a.key for a in assignments]
    if len(set(keys)) != len(keys):
        raise HermitError(f"--set names {keys[0]} twice; give each key once", field="--set")
    return [dict(zip(keys, combo, strict=True))
            for combo in itertools.product(*(a.values for a in assignments))]


def apply_override(document: dict, key: str, value: object) -> dict:
    """A deep copy of `document` with `value` set at the dotted `key` (see module docstring)."""
    result = copy.deepcopy(document)
    _set(result, _segments(key), value, key, [])
    return result


def _set(node: object, path: list[str], value: object, key: str, walked: list) -> None:
    head, rest = path[0], path[1:]
    where = dotted(walked)
    if isinstance(node, list):
        if head.isdigit():
            index = int(head)
            if index >= len(node):
                raise HermitError(f"{where} has {len(node)} entries, no index {index}", field=key)
            if rest:
                _set(node[index], rest, value, key, [*walked, index])
            else:
                node[index] = value
        elif head == "count" and not rest:
            if not isinstance(value, int) or value < 0:
                raise HermitError(f"count must be a whole number >= 0, got {value!r}", field=key)
            del node[value:]
        else:
            for index, item in enumerate(node):
                _set(item, path, value, key, [*walked, index])
        return
    if not isinstance(node, dict):
        raise HermitError(f"{where} is {node!r}, not a mapping", field=key)
    if not rest:
        node[head] = value
        return
    if head not in node:
        node[head] = {}
    _set(node[head], rest, value, key, [*walked, head])


def run(
    path: str | Path,
    assignments: list[Assignment],
    *,
    n_phones: int,
    seed: int | None = None,
    duration_s: float | None = None,
    out_dir: Path | None = None,
    emulate: bool = False,
    resume: bool = False,
    progress: Callable[[str], None] = print,
) -> list[dict]:
    """One row per grid point: {KEY: value, ..., radio columns, emulated columns}.

    Radio columns sample `n_phones` phones (`seed`: the scenario's unless given), averaged
    over the jammer schedules in [0, duration_s). With `emulate` each point is also run on the
    emulated network, its results in out_dir/run-N/. With `out_dir` each finished point is
    recorded there as it finishes; `resume` runs only the points not recorded yet.
    """
    source = str(path)
    document = scenario.read_document(path)
    points = grid(assignments)
    loaded_points = [scenario.from_dict(_overridden(document, point), source=source)
                     for point in points]   # every point valid before the first one runs
    for loaded in loaded_points:
        loaded.require_radio()
    if emulate and out_dir is None:
        raise HermitError("an emulated sweep needs an output folder for its runs", field="--out")
    spec = {"scenario": str(Path(path).resolve()), "scenario_sha256": _digest(document),
            "set": [a.text or f"{a.key}={','.join(map(str, a.values))}" for a in assignments],
            "phones": n_phones, "seed": seed, "duration_s": duration_s, "emulate": emulate}
    done = _open_books(out_dir, spec, resume) if out_dir is not None else {}
    if done:
        progress(f"resuming: {len(done)} of {len(points)} points already done in {out_dir}")
    started, ran = time.monotonic(), 0
    for number, (point, loaded) in enumerate(zip(points, loaded_points, strict=True)):
        if number in done:
            continue
        row = dict(point)
        row.update(radio_columns(loaded.radio, n_phones, seed, duration_s))
        if emulate:
            row.update(emulated_columns(loaded, _fresh_run_dir(out_dir, number), progress))
        if out_dir is not None:
            _record(out_dir, number, point, row)
        done[number] = row
        ran += 1
        left = len(points) - len(done)
        per_point_s = (time.monotonic() - started) / ran
        progress(f"point {len(done)}/{len(points)} done ({_describe(point)}); "
                 f"about {format_duration(per_point_s * left)} left")
    return [done[number] for number in range(len(points))]


def format_duration(seconds: float) -> str:
    """`75` -> `1 min 15 s`; `3` -> `3 s`."""
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes, rest = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {rest} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def _overridden(document: dict, point: dict) -> dict:
    for key, value in point.items():
        document = apply_override(document, key, value)
    return document


def _describe(point: dict) -> str:
    return ", ".join(f"{key}={value}" for key, value in point.items())


def _digest(document: dict) -> str:
    return hashlib.sha256(json.dumps(document, sort_keys=True, default=str).encode()).hexdigest()


def _open_books(out_dir: Path, spec: dict, resume: bool) -> dict[int, dict]:
    """Write (or, resuming, check) the sweep's spec; the rows of the points already finished."""
    spec_path, points_path = out_dir / SPEC_FILE, out_dir / POINTS_FILE
    if resume:
        if not spec_path.is_file():
            raise HermitError(f"no sweep to resume: {spec_path} does not exist", field="--resume")
        stored = json.loads(spec_path.read_text())
        changed = [name for name in spec if stored.get(name) != spec[name]]
        if changed:
            what = "; ".join(f"{name}: {stored.get(name)!r} then, {spec[name]!r} now"
                             for name in changed)
            raise HermitError(f"the sweep in {out_dir} was started with other settings ({what}); "
                              "resume it with the same ones, or start a new one with --out",
                              field="--resume")
        return finished_points(points_path)
    if points_path.exists() and points_path.stat().st_size:
        raise HermitError(f"{out_dir} already holds a sweep ({POINTS_FILE}); continue it with "
                          f"--resume {out_dir}, or give another --out", field="--out")
    out_dir.mkdir(parents=True, exist_ok=True)
    spec_path.write_text(json.dumps(spec, indent=2) + "\n")
    points_path.write_text("")
    return {}


def finished_points(points_path: Path) -> dict[int, dict]:
    """{point number: row} of `points.jsonl`; a last line cut short by an interruption is
    not a finished point."""
    done = {}
    if not points_path.is_file():
        return done
    for line in points_path.read_text().splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        done[entry["point"]] = entry["row"]
    return done


def _record(out_dir: Path, number: int, point: dict, row: dict) -> None:
    with (out_dir / POINTS_FILE).open("a") as handle:
        handle.write(json.dumps({"point": number, "values": point, "row": row}) + "\n")
        handle.flush()


def _fresh_run_dir(out_dir: Path, number: int) -> Path:
    """out_dir/run-N for point N; what an interrupted attempt left there is kept aside as
    run-N.interrupted-K, not reused."""
    run_dir = out_dir / f"run-{number}"
    if run_dir.exists():
        attempt = 1
        while (out_dir / f"run-{number}.interrupted-{attempt}").exists():
            attempt += 1
        run_dir.rename(out_dir / f"run-{number}.interrupted-{attempt}")
    return run_dir


def emulated_columns(loaded: scenario.Scenario, run_dir: Path,
                     progress: Callable[[str], None]) -> dict:
    """Run one scenario on the emulated network (root); its leakage becomes sweep columns."""
    from hermitnet import runner

    if not loaded.timeline_s or not loaded.timeline_traffic:
        raise HermitError("--emulate needs a timeline with traffic to count leakage",
                          source=loaded.source, field="measure.timeline")
    progress(f"emulating {run_dir} ...")
    _, results = runner.run(loaded, run_dir, progress=lambda message: None)
    timeline = results["radio"]["timeline"]
    on_foreign = [row["attached"]["foreign"] / max(1, sum(row["attached"].values()))
                  for row in timeline[:-1]]
    return {
        "emulated_foreign_share": sum(on_foreign) / len(on_foreign) if on_foreign else None,
        # None (an empty CSV cell) where the path could not be measured, and the reason beside it
        "leaked_bytes_foreign_cell": results["leakage"]["by_path"]["foreign-cell"],
        "foreign_cell_not_measured": results["leakage"]["not_measured"].get("foreign-cell", ""),
        "run_dir": str(run_dir),
    }


def write(rows: list[dict], keys: list[str], out_dir: Path, title: str) -> tuple[Path, Path]:
    """DIR/sweep.csv (one row per grid point) and DIR/sweep.png (the shares against the
    values: one line per value of the second key, if any)."""
    from hermitnet.radio.sweepplot import plot_grid, plot_sweep

    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path, png_path = out_dir / "sweep.csv", out_dir / "sweep.png"
    with csv_path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    if len(keys) == 1:
        plot_sweep(rows, keys[0], png_path, title=title)
    else:
        plot_grid(rows, keys, png_path, title=title)
    return csv_path, png_path
