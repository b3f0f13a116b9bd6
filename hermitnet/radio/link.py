"""Link quality from SINR: a truncated, attenuated Shannon rate and a logistic block-error curve.

Rate (3GPP TR 36.942, Annex A.2, "attenuated and truncated Shannon bound", applied to the
3.84 Mcps WCDMA carrier):

    rate = 0                                     if SINR < sinr_min
    rate = min(alpha * B * log2(1 + SINR), peak)  otherwise

with alpha = `shannon_attenuation` (0.6 in TR 36.942), B = 3.84 MHz, and `peak` the cell's
technology class (R99 0.384, HSPA 7.2 / 14.4 / 21 Mbit/s). The cell's rate is shared equally
among the UEs camped on it.

Loss (a logistic fit of the shape of link-level BLER curves; the midpoint and width are
scenario parameters, not measured values):

    loss_pct = 100 / (1 + exp((SINR - bler_midpoint) / bler_slope))
"""

from __future__ import annotations

import numpy as np

from hermitnet.radio.model import LinkParameters
from hermitnet.radio.propagation import WCDMA_CHIP_RATE_HZ

CARRIER_BANDWIDTH_MHZ = WCDMA_CHIP_RATE_HZ / 1e6


def rate_mbps_from_sinr(
    sinr_db: np.ndarray | float, peak_rate_mbps: np.ndarray | float, link: LinkParameters
) -> np.ndarray:
    """Unshared downlink rate of one UE alone on its cell, in Mbit/s."""
    sinr_db = np.asarray(sinr_db, dtype=float)
    shannon_mbps = (
        link.shannon_attenuation
        * CARRIER_BANDWIDTH_MHZ
        * np.log2(1.0 + np.power(10.0, sinr_db / 10.0))
    )
    rate_mbps = np.minimum(shannon_mbps, peak_rate_mbps)
    return np.where(sinr_db < link.sinr_min_db, 0.0, rate_mbps)


def loss_pct_from_sinr(sinr_db: np.ndarray | float, link: LinkParameters) -> np.ndarray:
    """Block-error rate in percent, used as the packet loss of the UE's air link."""
    exponent = np.clip(
        (np.asarray(sinr_db, dtype=float) - link.bler_midpoint_db) / link.bler_slope_db, -700, 700
    )
    return 100.0 / (1.0 + np.exp(exponent))
