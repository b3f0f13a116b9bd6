"""The radio layer: who attaches to which cell, national or foreign, at what rate and loss.

Pure Python + NumPy, no root. `parse` builds a RadioModel from a scenario's `radio:` section,
`evaluate` camps the emulated UEs at one instant, `population` evaluates millions of phones.
Formulas and sources: docs/radio.md.
"""

from hermitnet.radio.attach import Attachment, evaluate
from hermitnet.radio.model import RadioModel
from hermitnet.radio.parse import parse
from hermitnet.radio.population import PopulationResult, TownStats, population

__all__ = [
    "Attachment",
    "PopulationResult",
    "RadioModel",
    "TownStats",
    "evaluate",
    "parse",
    "population",
]
