"""Start Ryu 4.34 on a current eventlet.

Every eventlet release that runs on Python >= 3.10 lacks `eventlet.wsgi.ALREADY_HANDLED`, which
`ryu.app.wsgi` imports. `patch_eventlet()` puts it back; it must run before any `ryu` import.
The project starts its controller through `main()` here (`hermitnet-ryu-manager`), and the
playbook installs a `.pth` file that calls `install_import_hook()` so that a plain `ryu-manager`
in the virtual environment works too. Nothing else in hermitnet imports ryu.
"""

from __future__ import annotations

import importlib.abc
import sys


def patch_eventlet() -> None:
    import eventlet.wsgi

    if not hasattr(eventlet.wsgi, "ALREADY_HANDLED"):
        eventlet.wsgi.ALREADY_HANDLED = ()


class _PatchBeforeRyu(importlib.abc.MetaPathFinder):
    """Patches eventlet the first time anything imports `ryu`, then steps aside."""

    def find_spec(self, fullname, path, target=None):
        if fullname == "ryu":
            sys.meta_path.remove(self)
            patch_eventlet()
        return None


def install_import_hook() -> None:
    if "ryu" not in sys.modules and not any(isinstance(f, _PatchBeforeRyu) for f in sys.meta_path):
        sys.meta_path.insert(0, _PatchBeforeRyu())


def main() -> int:
    patch_eventlet()
    from ryu.cmd import manager

    sys.argv[0] = "ryu-manager"
    return manager.main() or 0


if __name__ == "__main__":
    sys.exit(main())
