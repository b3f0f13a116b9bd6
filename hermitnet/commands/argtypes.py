"""Argument types shared by the commands: numbers in range, and output paths a user can fix.

A bad value is an argparse usage error (exit 2, naming the option), never a traceback."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager

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
