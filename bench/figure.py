"""The one line every benchmark prints per figure, and its reader (used by bench/run.py).

    figure: border population = 6.5 s | baseline (same run): naive pass = 5.93 s | ratio 1.10

A figure is measured beside a baseline taken in the same run on the same machine, so a busy
machine shows in both; the ratio is figure / baseline (what "better" means depends on the
figure: say it in its name, e.g. "... time" or "... phones/s").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PREFIX = "figure: "
_LINE = re.compile(
    r"^figure: (?P<name>.+?) = (?P<value>[-+0-9.eE]+) (?P<unit>\S+) \| "
    r"baseline \(same run\): (?P<baseline>.+?) = (?P<baseline_value>[-+0-9.eE]+) \S+ \| "
    r"ratio (?P<ratio>[-+0-9.eE]+|n/a)$")


@dataclass(frozen=True)
class Figure:
    name: str
    value: float
    unit: str
    baseline: str
    baseline_value: float

    @property
    def ratio(self) -> float | None:
        return self.value / self.baseline_value if self.baseline_value else None

    def line(self) -> str:
        ratio = f"{self.ratio:.3g}" if self.ratio is not None else "n/a"
        return (f"{PREFIX}{self.name} = {self.value:.4g} {self.unit} | baseline (same run): "
                f"{self.baseline} = {self.baseline_value:.4g} {self.unit} | ratio {ratio}")


def figure(name: str, value: float, unit: str, baseline: str, baseline_value: float) -> Figure:
    """Print one figure beside its same-run baseline (same unit) and return it."""
    measured = Figure(name, float(value), unit, baseline, float(baseline_value))
    print(measured.line(), flush=True)
    return measured


def parse(text: str) -> list[Figure]:
    """Every figure line of a benchmark's output, in order."""
    found = []
    for line in text.splitlines():
        match = _LINE.match(line.strip())
        if match:
            found.append(Figure(match["name"], float(match["value"]), match["unit"],
                                match["baseline"], float(match["baseline_value"])))
    return found
