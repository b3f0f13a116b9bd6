"""Read a scenario file's radio section for the radio-only commands (map, sweep)."""

from __future__ import annotations

from pathlib import Path

import yaml

from hermitnet.errors import HermitError
from hermitnet.radio.model import RadioModel
from hermitnet.radio.parse import parse


def read_scenario(path: str | Path) -> dict:
    """The scenario file as a dict; errors name the file and, for YAML errors, the line."""
    path = Path(path)
    try:
        document = yaml.safe_load(path.read_text())
    except OSError as error:
        raise HermitError(f"cannot read scenario: {error.strerror}", source=str(path)) from error
    except yaml.YAMLError as error:
        raise HermitError(f"not valid YAML: {error}", source=str(path)) from error
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
