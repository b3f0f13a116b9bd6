"""COST-231 Hata median path loss for macro cells around 2 GHz, vectorised with NumPy.

Published form (COST 231 Final Report, "Digital mobile radio towards future generation
systems", European Commission, 1999, ch. 4.4.1; extending M. Hata, "Empirical formula for
propagation loss in land mobile radio services", IEEE Trans. Veh. Technol. VT-29(3), 1980):

    L_urban = 46.3 + 33.9 log10(f) - 13.82 log10(h_b) - a(h_m)
              + (44.9 - 6.55 log10(h_b)) log10(d) + C_m                       [dB]
    a(h_m)  = (1.1 log10(f) - 0.7) h_m - (1.56 log10(f) - 0.8)               [dB]
    C_m     = 0 dB (medium-sized city, suburban centre), 3 dB (metropolitan centre)

with f in MHz, h_b (base antenna) and h_m (mobile antenna) in m, d in km. The suburban and open
(rural) conversions are Hata's (1980) own, applied to the medium-city figure:

    L_suburban = L_urban - 2 (log10(f / 28))^2 - 5.4
    L_rural    = L_urban - 4.78 (log10 f)^2 + 18.33 log10(f) - 40.94

Validity per the report: f 1500-2000 MHz, h_b 30-200 m, h_m 1-10 m, d 1-20 km. The testbed uses
it at 2100 MHz (UMTS band I) and for low jammer masts, which is an extrapolation; distances
below `MIN_DISTANCE_KM` are clamped so the loss stays finite and never decreases with distance.
"""

from __future__ import annotations

import numpy as np

ENVIRONMENTS = ("metropolitan", "urban", "suburban", "rural")
"""Clutter classes, in the order used by the integer environment codes of the arrays."""

MIN_DISTANCE_KM = 0.05
BOLTZMANN_NOISE_DBM_PER_HZ = -174.0
WCDMA_CHIP_RATE_HZ = 3.84e6


def environment_code(name: str) -> int:
    """Integer code of a clutter class name (index into ENVIRONMENTS)."""
    return ENVIRONMENTS.index(name)


def environment_correction_db(freq_mhz: np.ndarray | float) -> list[np.ndarray]:
    """Additive correction to the medium-city loss, one entry per environment code, at
    `freq_mhz` (each entry has the shape of `freq_mhz`)."""
    log_f = np.log10(freq_mhz)
    suburban = -2.0 * np.log10(np.asarray(freq_mhz) / 28.0) ** 2 - 5.4
    rural = -4.78 * log_f**2 + 18.33 * log_f - 40.94
    return [np.full_like(log_f, 3.0), np.zeros_like(log_f), suburban, rural]


def cost231_hata_loss_db(
    freq_mhz: np.ndarray | float,
    base_height_m: np.ndarray | float,
    mobile_height_m: np.ndarray | float,
    distance_km: np.ndarray | float,
    environment: np.ndarray | int | str = "urban",
) -> np.ndarray:
    """Median path loss in dB. Frequency, heights and distance broadcast together; the
    environment (name or code) indexes the leading axes, its correction having the shape
    `environment.shape + freq_mhz.shape`: points (N,) against transmitters (K,) with distances
    (N, K) give an (N, K) matrix.

    The result has the float precision of `distance_km` (float32 in population runs).
    """
    if isinstance(environment, str):
        environment = environment_code(environment)
    distance = np.asarray(distance_km)
    dtype = distance.dtype if distance.dtype.kind == "f" else np.dtype(float)
    distance = np.maximum(distance.astype(dtype, copy=False), dtype.type(MIN_DISTANCE_KM))
    log_f = np.log10(np.asarray(freq_mhz, dtype=float))
    log_hb = np.log10(np.asarray(base_height_m, dtype=float))
    mobile_height_m = np.asarray(mobile_height_m, dtype=dtype)
    constant_db = (46.3 + 33.9 * log_f - 13.82 * log_hb + (1.56 * log_f - 0.8)).astype(dtype)
    mobile_slope = (1.1 * log_f - 0.7).astype(dtype)
    distance_slope = (44.9 - 6.55 * log_hb).astype(dtype)
    medium_city_db = (
        constant_db - mobile_slope * mobile_height_m + distance_slope * np.log10(distance)
    )
    corrections = np.stack(environment_correction_db(np.asarray(freq_mhz))).astype(dtype)
    return medium_city_db + np.take(corrections, np.asarray(environment), axis=0)


def thermal_noise_dbm(noise_figure_db: float, bandwidth_hz: float = WCDMA_CHIP_RATE_HZ) -> float:
    """Receiver noise floor: kTB at 290 K plus the noise figure (-101.2 dBm for WCDMA, NF 7 dB)."""
    return BOLTZMANN_NOISE_DBM_PER_HZ + 10.0 * np.log10(bandwidth_hz) + noise_figure_db


DB_TO_NEPER = float(np.log(10.0) / 10.0)


def dbm_to_mw(power_dbm: np.ndarray | float) -> np.ndarray:
    """10 ** (dBm / 10), as an exponential (much faster than a power in float32)."""
    return np.exp(np.asarray(power_dbm) * DB_TO_NEPER)


def mw_to_dbm(power_mw: np.ndarray | float) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(power_mw)
