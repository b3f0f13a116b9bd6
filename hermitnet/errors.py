"""The one error type a user sees: it says where, what was found and what was expected."""

from __future__ import annotations


class HermitError(Exception):
    """An error the user can act on; the CLI prints it without a traceback and exits non-zero."""

    def __init__(self, message: str, *, source: str | None = None, field: str | None = None):
        self.message = message
        self.source = source
        self.field = field
        where = ": ".join(part for part in (source, field) if part)
        super().__init__(f"{where}: {message}" if where else message)
