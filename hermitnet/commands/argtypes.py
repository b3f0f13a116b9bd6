"""Argument types shared by the commands: numbers in range, and output paths a user can fix.

A bad value is an argparse usage error (exit 2, naming the option), never a traceback."""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hermitnet.errors import HermitError


def _number(kind, text: str, low: float, strict: bool, what: str):
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if value < low or (strict and value == low):
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
    return value


def positive_int(text: str) -> int:
    return _number(int, text, 0, True, "a whole number > 0")


def non_negative_int(text: str) -> int:
    return _number(int, text, 0, False, "a whole number >= 0")


def positive_float(text: str) -> float:
    return _number(float, text, 0.0, True, "a number > 0")


def non_negative_float(text: str) -> float:
    return _number(float, text, 0.0, False, "a number >= 0")


@contextmanager
def writing(option: str) -> Iterator[None]:
    """Turn a failure to create or write an output (a folder that is a file, no permission, a
    full disk) into an error naming the option and the path."""
    try:
        yield
    except OSError as error:
        path = error.filename or "output"
        why = error.strerror or str(error)
        if isinstance(error, (FileExistsError, NotADirectoryError)):
            why = "a file is in the way of a folder"
        raise HermitError(f"cannot write {path}: {why}", field=option) from None


def check_creatable(path: Path, option: str) -> None:
    """Refuse, before anything is made, a folder that cannot be created or written: its nearest
    existing ancestor must be a writable folder (nothing is created here)."""
    existing = Path(path)
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise HermitError(f"cannot write {path}: a file is in the way of a folder", field=option)
    if not os.access(existing, os.W_OK | os.X_OK):
        raise HermitError(f"cannot write {path}: permission denied", field=option)


def cluster(text: str):
    """--cluster: machine names a,b,... or a cluster file (hermitnet.cluster.placement)."""
    from hermitnet.cluster.placement import parse_cluster

    try:
        return parse_cluster(text)
    except HermitError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
