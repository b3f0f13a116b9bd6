"""What the package ships besides its code: the example scenarios and the controller app.

Both are package data (`hermitnet.scenarios`, `hermitnet.controllers`), found with
importlib.resources, so they are the same files from a checkout, an editable install or a wheel.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from hermitnet.errors import HermitError

SCENARIOS = "hermitnet.scenarios"
CONTROLLERS = "hermitnet.controllers"
CONTROLLER_APP = "tiered_routing.py"


def scenario_files() -> list[Path]:
    """Every shipped scenario file, by name."""
    folder = resources.files(SCENARIOS)
    return sorted((_on_disk(item) for item in folder.iterdir() if item.name.endswith(".yaml")),
                  key=lambda path: path.name)


def scenario_path(argument: str) -> Path:
    """A scenario file as given on a command line: a path, or the name of a shipped scenario.

    A path that exists wins; else "baseline" (or "baseline.yaml") names a shipped scenario. Any
    other argument comes back as a path, for the loader to say it cannot be read.
    """
    path = Path(argument)
    if path.exists() or path.parent != Path("."):
        return path
    name = argument if argument.endswith(".yaml") else f"{argument}.yaml"
    shipped = {p.name: p for p in scenario_files()}
    return shipped.get(name, path)


def controller_app() -> Path:
    """The tiered-routing Ryu app, as a file `hermitnet-ryu-manager` can load."""
    app = resources.files(CONTROLLERS).joinpath(CONTROLLER_APP)
    if not app.is_file():
        raise HermitError(f"the controller app {CONTROLLER_APP} is not in the installed package "
                          f"({CONTROLLERS}); reinstall hermitnet (make setup)")
    return _on_disk(app)


def _on_disk(item) -> Path:
    """The file behind a package resource (in a checkout: the file in scenarios/ or controllers/,
    which the package links to)."""
    if not isinstance(item, Path):
        raise HermitError(f"hermitnet's package data must be files on disk, not {item!r}: "
                          "install hermitnet unzipped (pip install)")
    return item.resolve()
