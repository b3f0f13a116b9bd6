"""Link quality from SINR: a truncated, attenuated Shannon rate and the IP loss left after
HSDPA's HARQ and RLC acknowledged-mode retransmissions.

Rate (3GPP TR 36.942, Annex A.2, "attenuated and truncated Shannon bound", applied to the
3.84 Mcps WCDMA carrier):

    rate = 0                                     if SINR < sinr_min
    rate = min(alpha * B * log2(1 + SINR), peak)  otherwise

with alpha = `shannon_attenuation` (0.6 in TR 36.942), B = 3.84 MHz, and `peak` the cell's
technology class (R99 0.384, HSPA 7.2 / 14.4 / 21 Mbit/s). The cell's rate is shared equally
among the UEs camped on it. The rate stands for link adaptation and the throughput cost of
retransmissions is taken to be inside the attenuation alpha: it is not charged a second time.

Block error rate of one transmission (a logistic fit of the shape of link-level BLER curves;
the midpoint and width are scenario parameters, not measured values):

    bler = 1 / (1 + exp((SINR - bler_midpoint) / bler_slope))

IP loss: HSDPA HARQ (3GPP TS 25.308, 5.1 and 11) sends a transport block up to `harq_tx`
times; an RLC acknowledged-mode PDU (3GPP TS 25.322, 9.7.3.4, MaxDAT) that HARQ gave up on is
sent again, up to `rlc_tx` times, and then discarded with its SDU. Attempts are taken as
independent at the same SINR (no chase-combining gain: an upper bound on the residual), and an
IP packet of `ip_packet_bytes` is lost when any of its ceil(ip_packet_bytes / rlc_payload_bytes)
PDUs is:

    p_pdu   = bler ** (harq_tx * rlc_tx)
    loss    = 1 - (1 - p_pdu) ** ceil(ip_packet_bytes / rlc_payload_bytes)
"""

from __future__ import annotations

import math

import numpy as np

from hermitnet.radio.model import LinkParameters
from hermitnet.radio.propagation import WCDMA_CHIP_RATE_HZ

CARRIER_BANDWIDTH_MHZ = WCDMA_CHIP_RATE_HZ / 1e6
HARQ_TRANSMISSIONS = 4
"""Transmissions of one HSDPA transport block (first + 3 retransmissions), a common setting."""
RLC_TRANSMISSIONS = 4
"""Transmissions of one RLC AM PDU before it is discarded (MaxDAT), an assumed setting."""
RLC_PAYLOAD_BYTES = 40
"""RLC AM PDU payload of HSDPA's fixed 336-bit PDU (320 bits of data)."""
IP_PACKET_BYTES = 1500


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


def block_error_rate(sinr_db: np.ndarray | float, link: LinkParameters) -> np.ndarray:
    """Probability that one transmission of a transport block fails, 0..1."""
    exponent = np.clip(
        (np.asarray(sinr_db, dtype=float) - link.bler_midpoint_db) / link.bler_slope_db, -700, 700
    )
    return 1.0 / (1.0 + np.exp(exponent))


def ip_loss_pct_from_sinr(
    sinr_db: np.ndarray | float,
    link: LinkParameters,
    *,
    harq_transmissions: int = HARQ_TRANSMISSIONS,
    rlc_transmissions: int = RLC_TRANSMISSIONS,
    ip_packet_bytes: int = IP_PACKET_BYTES,
    rlc_payload_bytes: int = RLC_PAYLOAD_BYTES,
) -> np.ndarray:
    """IP packet loss in percent left after HARQ and RLC AM retransmissions: the air link's loss."""
    pdu_lost = block_error_rate(sinr_db, link) ** (harq_transmissions * rlc_transmissions)
    pdus = math.ceil(ip_packet_bytes / rlc_payload_bytes)
    return -100.0 * np.expm1(pdus * np.log1p(-np.minimum(pdu_lost, 1.0 - 1e-300)))
