"""Read a scenario file's radio section for the radio-only commands (map, sweep)."""

from __future__ import annotations

from pathlib import Path

from hermitnet.errors import HermitError
from hermitnet.radio.model import RadioModel
from hermitnet.radio.parse import parse


def read_scenario(path: str | Path) -> dict:
    """The scenario file as a dict, read by the scenario loader's own reader."""
    from hermitnet.scenario import read_document

    document = read_document(path)
    if not isinstance(document, dict):
        raise HermitError("expected a mapping at the top level", source=str(path))
    return document


def radio_model(document: dict, source: str) -> RadioModel:
    """Parse the `radio:` section; a scenario without one cannot be mapped or swept."""
    if "radio" not in document:
        raise HermitError(
            "this scenario has no radio section (see scenarios/border.yaml)",
            source=source,
            field="radio",
        )
    seed = document.get("seed", 0)
    return parse(document["radio"], source, seed=seed if isinstance(seed, int) else 0)
