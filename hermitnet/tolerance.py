"""One tested helper for "measured is within X of expected" (relative, both directions)."""

from __future__ import annotations


def within(measured: float, expected: float, fraction: float) -> bool:
    """True when |measured - expected| <= fraction * expected."""
    if expected <= 0 or fraction < 0:
        raise ValueError("expected must be positive and fraction non-negative")
    return abs(measured - expected) <= fraction * expected
