"""Downlink quality of every cell at many points at once: RSCP, Ec/No, SINR and cell selection.

For a point and a cell c on a carrier, with received powers in mW (path loss from
COST-231 Hata, plus log-normal shadowing):

    S_c     = EIRP_c - L_c + shadowing                 total power received from c
    RSCP_c  = S_c + pilot_fraction_c                   CPICH received code power
    I_c     = sum over other cells c' of S_c' * overlap(c', c)
    J_c     = sum over jammers j on of P_j * overlap(j, c)
    Ec/No_c = RSCP_c / (N + S_c + I_c + J_c)           (No: everything received on the carrier)
    SINR_c  = S_c / (N + I_c + J_c)

overlap(a, c) is the share of a's transmitted band that falls in c's 5 MHz carrier. A jammer
spreads its power evenly over its band, so a wideband jammer also hits national carriers.

Cell selection (3GPP TS 25.304, 5.2.3.1.2, S-criterion): a cell is suitable when
Srxlev = RSCP - Qrxlevmin > 0 and Squal = Ec/No - Qqualmin > 0; the UE camps on the suitable
cell of its allowed kind with the best Ec/No (the ranking of TS 25.304 5.2.6.1.4 with no
offsets or hysteresis).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hermitnet.radio.model import CARRIER_WIDTH_MHZ, RadioModel
from hermitnet.radio.propagation import (
    cost231_hata_loss_db,
    dbm_to_mw,
    environment_code,
    mw_to_dbm,
    thermal_noise_dbm,
)


def band_overlap(
    centre_mhz: np.ndarray, width_mhz: np.ndarray, carrier_mhz: np.ndarray
) -> np.ndarray:
    """Share of each transmitted band (rows) inside each 5 MHz receive carrier (columns)."""
    low = np.maximum(centre_mhz[:, None] - width_mhz[:, None] / 2, carrier_mhz[None, :] - 2.5)
    high = np.minimum(centre_mhz[:, None] + width_mhz[:, None] / 2, carrier_mhz[None, :] + 2.5)
    return np.clip(high - low, 0.0, None) / width_mhz[:, None]


@dataclass(frozen=True)
class Transmitters:
    """The model's cells and jammers as arrays, with their coupling into each cell's carrier."""

    cell_xy_km: np.ndarray  # (C, 2)
    cell_eirp_dbm: np.ndarray
    cell_pilot_db: np.ndarray
    cell_height_m: np.ndarray
    cell_freq_mhz: np.ndarray
    cell_is_foreign: np.ndarray  # bool
    cell_peak_mbps: np.ndarray
    cell_to_cell: np.ndarray  # (C, C), zero diagonal
    jammer_xy_km: np.ndarray  # (J, 2)
    jammer_eirp_dbm: np.ndarray
    jammer_height_m: np.ndarray
    jammer_freq_mhz: np.ndarray
    jammer_to_cell: np.ndarray  # (J, C)
    noise_mw: float

    @classmethod
    def of(cls, model: RadioModel) -> Transmitters:
        cells, jammers = model.cells, model.jammers
        cell_freq = np.array([c.freq_mhz for c in cells])
        cell_to_cell = band_overlap(cell_freq, np.full(len(cells), CARRIER_WIDTH_MHZ), cell_freq)
        np.fill_diagonal(cell_to_cell, 0.0)
        jammer_freq = np.array([j.freq_mhz for j in jammers], dtype=float)
        jammer_width = np.array([j.bandwidth_mhz for j in jammers], dtype=float)
        return cls(
            cell_xy_km=np.array([(c.x_km, c.y_km) for c in cells], dtype=float).reshape(-1, 2),
            cell_eirp_dbm=np.array([c.eirp_dbm for c in cells]),
            cell_pilot_db=np.array([c.pilot_fraction_db for c in cells]),
            cell_height_m=np.array([c.height_m for c in cells]),
            cell_freq_mhz=cell_freq,
            cell_is_foreign=np.array([c.kind == "foreign" for c in cells], dtype=bool),
            cell_peak_mbps=np.array([c.peak_rate_mbps for c in cells]),
            cell_to_cell=cell_to_cell,
            jammer_xy_km=np.array([(j.x_km, j.y_km) for j in jammers], dtype=float).reshape(-1, 2),
            jammer_eirp_dbm=np.array([j.eirp_dbm for j in jammers], dtype=float),
            jammer_height_m=np.array([j.height_m for j in jammers], dtype=float),
            jammer_freq_mhz=jammer_freq,
            jammer_to_cell=band_overlap(jammer_freq, jammer_width, cell_freq),
            noise_mw=float(dbm_to_mw(thermal_noise_dbm(model.link.noise_figure_db))),
        )


def environment_codes(model: RadioModel, x_km: np.ndarray, y_km: np.ndarray) -> np.ndarray:
    """Clutter class per point: a town's class inside its core radius, else the countryside."""
    codes = np.full(np.shape(x_km), environment_code(model.countryside_environment), dtype=np.int8)
    for town in sorted(model.towns, key=lambda t: -t.radius_km):
        inside = np.hypot(x_km - town.x_km, y_km - town.y_km) <= town.radius_km
        codes[inside] = environment_code(town.environment)
    return codes


def _received_dbm(
    xy_km: np.ndarray,
    eirp_dbm: np.ndarray,
    height_m: np.ndarray,
    freq_mhz: np.ndarray,
    x_km: np.ndarray,
    y_km: np.ndarray,
    env: np.ndarray,
    mobile_height_m: np.ndarray | float,
) -> np.ndarray:
    received = np.empty((len(x_km), len(eirp_dbm)), dtype=np.result_type(x_km, np.float32))
    for index in range(len(eirp_dbm)):
        distance_km = np.hypot(x_km - xy_km[index, 0], y_km - xy_km[index, 1])
        loss_db = cost231_hata_loss_db(
            freq_mhz[index], height_m[index], mobile_height_m, distance_km, env
        )
        received[:, index] = eirp_dbm[index] - loss_db
    return received


@dataclass(frozen=True)
class ReceivedPower:
    """Median-plus-shadowing power received from each cell (dBm) and each jammer (mW)."""

    cell_dbm: np.ndarray  # (N, C)
    jammer_mw: np.ndarray  # (N, J)


def received_power(
    tx: Transmitters,
    x_km: np.ndarray,
    y_km: np.ndarray,
    env: np.ndarray,
    mobile_height_m: np.ndarray | float,
    cell_shadow_db: np.ndarray | None = None,
    jammer_shadow_db: np.ndarray | None = None,
) -> ReceivedPower:
    cell_dbm = _received_dbm(
        tx.cell_xy_km,
        tx.cell_eirp_dbm,
        tx.cell_height_m,
        tx.cell_freq_mhz,
        x_km,
        y_km,
        env,
        mobile_height_m,
    )
    jammer_dbm = _received_dbm(
        tx.jammer_xy_km,
        tx.jammer_eirp_dbm,
        tx.jammer_height_m,
        tx.jammer_freq_mhz,
        x_km,
        y_km,
        env,
        mobile_height_m,
    )
    if cell_shadow_db is not None:
        cell_dbm += cell_shadow_db
    if jammer_shadow_db is not None:
        jammer_dbm += jammer_shadow_db
    return ReceivedPower(cell_dbm=cell_dbm, jammer_mw=dbm_to_mw(jammer_dbm))


@dataclass(frozen=True)
class DownlinkQuality:
    """Per point and cell, kept as linear ratios; the dB views are computed on demand."""

    rscp_dbm: np.ndarray  # (N, C)
    ec_no_ratio: np.ndarray
    sinr_ratio: np.ndarray
    jamming_mw: np.ndarray  # jammer power received in each cell's carrier
    suitable: np.ndarray  # bool, S-criterion met

    @property
    def ec_no_db(self) -> np.ndarray:
        return mw_to_dbm(self.ec_no_ratio)

    @property
    def sinr_db(self) -> np.ndarray:
        return mw_to_dbm(self.sinr_ratio)

    @property
    def jamming_dbm(self) -> np.ndarray:
        return mw_to_dbm(self.jamming_mw)


def _mix(power_mw: np.ndarray, coupling: np.ndarray) -> np.ndarray:
    """power_mw (N, K) through coupling (K, C); einsum beats BLAS on such thin matrices."""
    return np.einsum("nk,kc->nc", power_mw, coupling)


def downlink_quality(
    model: RadioModel, tx: Transmitters, power: ReceivedPower, jammer_on: np.ndarray
) -> DownlinkQuality:
    """Pilot and data quality of every cell at every point, with the given jammers on."""
    dtype = power.cell_dbm.dtype
    signal_mw = dbm_to_mw(power.cell_dbm)
    jammer_to_cell = (tx.jammer_to_cell * jammer_on[:, None]).astype(dtype)
    jamming_mw = _mix(power.jammer_mw, jammer_to_cell)
    impairment_mw = tx.noise_mw + _mix(signal_mw, tx.cell_to_cell.astype(dtype)) + jamming_mw
    rscp_dbm = power.cell_dbm + tx.cell_pilot_db.astype(dtype)
    pilot_ratio = dbm_to_mw(tx.cell_pilot_db).astype(dtype)
    ec_no_ratio = pilot_ratio * signal_mw / (impairment_mw + signal_mw)
    suitable = (rscp_dbm > model.selection.qrxlevmin_dbm) & (
        ec_no_ratio > dbm_to_mw(model.selection.qqualmin_db)
    )
    return DownlinkQuality(rscp_dbm, ec_no_ratio, signal_mw / impairment_mw, jamming_mw, suitable)


def best_cell(quality: DownlinkQuality, allowed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of the camped cell per point (best Ec/No among suitable allowed cells) and
    whether there is one. `allowed` is (C,) or (N, C) bool."""
    candidates = quality.suitable & allowed
    if candidates.shape[1] == 0:
        return np.zeros(len(candidates), dtype=int), np.zeros(len(candidates), dtype=bool)
    ranked = np.where(candidates, quality.ec_no_ratio, -1.0)
    return np.argmax(ranked, axis=1), candidates.any(axis=1)
