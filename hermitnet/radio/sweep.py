"""The radio columns of a sweep row: how many sampled phones still reach a foreign cell.

`hermitnet.sweep` applies each `--set` value to the scenario and loads it; this module turns
the loaded radio model into numbers, time-averaged over the jammer schedules.
"""

from __future__ import annotations

from hermitnet.radio.model import RadioModel
from hermitnet.radio.population import population


def jammer_state_times(model: RadioModel, duration_s: float) -> tuple[list[float], list[float]]:
    """Start of each interval in [0, duration_s) where no jammer switches, and its weight
    (its share of the duration): time averages need one evaluation per interval."""
    edges = sorted({0.0, *(t for j in model.jammers for t in j.edges_s(duration_s))})
    bounds = [*edges, duration_s]
    weights = [(b - a) / duration_s for a, b in zip(bounds, bounds[1:], strict=False)]
    return edges, weights


def radio_columns(
    model: RadioModel, n_phones: int, seed: int | None, duration_s: float | None
) -> dict:
    """Population shares of `n_phones` sampled phones (seed: the model's unless given),
    averaged over [0, duration_s) or with every jammer on when duration_s is None."""
    times_s, weights = (None, None)
    if duration_s is not None:
        times_s, weights = jammer_state_times(model, duration_s)
    result = population(
        model,
        n_phones,
        model.seed if seed is None else seed,
        times_s=times_s,
        time_weights=weights,
    )
    return {
        "foreign_reach_share": result.foreign_reach_share,
        "foreign_reach_share_any": result.foreign_reach_share_any,
        "border_foreign_reach_share": result.border_foreign_reach_share,
        "jamming_effectiveness": result.jamming_effectiveness,
        "national_coverage_share": result.national_coverage_share,
    }
