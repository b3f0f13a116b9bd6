"""Parameter sweeps: one scenario, one `--set KEY=V1,V2,...` override per row.

A KEY is a dotted path into the scenario document (after its `extends` chain is merged). Over a
list, an integer segment picks one entry (`radio.jammers.0.power_dbm`, also written
`radio.jammers[0].power_dbm` as in error messages), any other segment applies to every entry
(`radio.jammers.power_dbm`), and a final `count` keeps the first N entries
(`radio.jammers.count=0,1,2`); a missing mapping key is created. Values are read as YAML
scalars (30, 0.5, true, name).

Each overridden document is loaded by `hermitnet.scenario` like any scenario file, so a value
that makes it invalid fails naming the field. A row holds the value, the radio model's
population shares (`hermitnet.radio.sweep`) and, with `emulate_dir`, what one emulated run of
that value measured (needs root).
"""

from __future__ import annotations

import copy
import csv
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from hermitnet import scenario
from hermitnet.errors import HermitError
from hermitnet.radio.sweep import radio_columns
from hermitnet.schema_check import dotted


@dataclass(frozen=True)
class Assignment:
    key: str
    values: tuple

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
    return Assignment(key=key, values=values)


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
    assignment: Assignment,
    *,
    n_phones: int,
    seed: int | None = None,
    duration_s: float | None = None,
    emulate_dir: Path | None = None,
    progress: Callable[[str], None] = print,
) -> list[dict]:
    """One row per value of `assignment`: {KEY: value, radio columns, emulated columns}.

    Radio columns sample `n_phones` phones (`seed`: the scenario's unless given), averaged
    over the jammer schedules in [0, duration_s). With `emulate_dir` each value is also run on
    the emulated network, its results in emulate_dir/run-N/.
    """
    source = str(path)
    document = scenario.read_document(path)
    if emulate_dir is not None:
        emulate_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for number, value in enumerate(assignment.values):
        loaded = scenario.from_dict(apply_override(document, assignment.key, value), source=source)
        row = {assignment.key: value}
        row.update(radio_columns(loaded.require_radio(), n_phones, seed, duration_s))
        if emulate_dir is not None:
            row.update(emulated_columns(loaded, emulate_dir / f"run-{number}", progress))
        rows.append(row)
    return rows


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


def write(rows: list[dict], key: str, out_dir: Path, title: str) -> tuple[Path, Path]:
    """DIR/sweep.csv (one row per value) and DIR/sweep.png (the shares against the value)."""
    from hermitnet.radio.sweepplot import plot_sweep

    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path, png_path = out_dir / "sweep.csv", out_dir / "sweep.png"
    with csv_path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    plot_sweep(rows, key, png_path, title=title)
    return csv_path, png_path
