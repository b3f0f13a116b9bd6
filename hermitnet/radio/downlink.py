"""Downlink quality of every cell at many points at once: RSCP, Ec/No, SINR and cell selection.

For a point and a cell c on carrier f(c), with received powers in mW (path loss from
COST-231 Hata, plus log-normal shadowing):

    S_c     = EIRP_c - L_c + shadowing                 total power received from c
    RSCP_c  = S_c + pilot_fraction_c                   CPICH received code power
    T_f     = sum over cells c' of S_c' * overlap(c', f)
              + sum over jammers j on of P_j * overlap(j, f)    everything on carrier f
    Ec/No_c = RSCP_c / (N + T_f(c))                    (No: everything received on the carrier)
    SINR_c  = eta_c S_c / ((1 - alpha) S_c + (T_f(c) - S_c) + N)

overlap(a, f) is the share of a's transmitted band that falls in the 5 MHz carrier f. A jammer
spreads its power evenly over its band, so a wideband jammer also hits national carriers.
eta_c = 1 - pilot share - COMMON_CHANNELS_SHARE is the share of the cell's power that carries
data; alpha = ORTHOGONALITY_FACTOR is the downlink orthogonality of the own cell's codes after
multipath (1: perfectly orthogonal, 0: the own cell interferes like another cell), so a share
1 - alpha of the own cell's whole power (the wanted codes' own multipath included) is
interference (Holma & Toskala, "WCDMA for UMTS", downlink load factor; "HSDPA/HSUPA for
UMTS", HS-DSCH SINR).

Cell selection (3GPP TS 25.304, 5.2.3.1.2, S-criterion): a cell is suitable when
Srxlev = RSCP - Qrxlevmin > 0 and Squal = Ec/No - Qqualmin > 0; the UE camps on the suitable
cell of its allowed kind with the best Ec/No (the ranking of TS 25.304 5.2.6.1.4 with no
offsets or hysteresis).

Reach (`reach_km`): the distance beyond which a transmitter, with the least lossy clutter of
the map and shadowing at its truncation limit, arrives below both the noise floor and (for a
cell) the power whose pilot would pass Srxlev. Beyond it a transmitter can neither be camped
on nor add more than a sub-noise-floor share of interference; population runs prune there.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from hermitnet.radio.model import CARRIER_WIDTH_MHZ, RadioModel
from hermitnet.radio.propagation import (
    MIN_DISTANCE_KM,
    cost231_hata_loss_db,
    dbm_to_mw,
    environment_code,
    mw_to_dbm,
    thermal_noise_dbm,
)

ORTHOGONALITY_FACTOR = 0.6
"""Downlink orthogonality of the own cell's codes in a macro cell with multipath (Holma &
Toskala give 0.4-0.9; 0.6 is the usual figure for the ITU Vehicular A channel)."""
COMMON_CHANNELS_SHARE = 0.1
"""Cell power on common channels other than the pilot (P-CCPCH, SCH, PICH, AICH...)."""
SHADOW_TRUNCATION_SIGMA = 3.0
"""Shadowing draws are clipped to +-3 sigma (0.27 % of links), which bounds a transmitter's
reach exactly."""


def band_overlap(
    centre_mhz: np.ndarray, width_mhz: np.ndarray, carrier_mhz: np.ndarray
) -> np.ndarray:
    """Share of each transmitted band (rows) inside each 5 MHz receive carrier (columns)."""
    low = np.maximum(centre_mhz[:, None] - width_mhz[:, None] / 2, carrier_mhz[None, :] - 2.5)
    high = np.minimum(centre_mhz[:, None] + width_mhz[:, None] / 2, carrier_mhz[None, :] + 2.5)
    return np.clip(high - low, 0.0, None) / width_mhz[:, None]


@dataclass(frozen=True)
class Transmitters:
    """The model's cells and jammers as arrays, with their coupling into each receive carrier.

    `subset` keeps some cells and jammers (the carriers stay those of every cell); `cell_id`
    and `jammer_id` are then the indices into the model's full lists.
    """

    cell_id: np.ndarray  # (C,) index into model.cells
    cell_xy_km: np.ndarray  # (C, 2)
    cell_eirp_dbm: np.ndarray
    cell_pilot_db: np.ndarray
    cell_height_m: np.ndarray
    cell_freq_mhz: np.ndarray
    cell_is_foreign: np.ndarray  # bool
    cell_peak_mbps: np.ndarray
    cell_carrier: np.ndarray  # (C,) index of the cell's own carrier in carrier_mhz
    cell_to_carrier: np.ndarray  # (C, F)
    jammer_id: np.ndarray  # (J,) index into model.jammers
    jammer_xy_km: np.ndarray  # (J, 2)
    jammer_eirp_dbm: np.ndarray
    jammer_height_m: np.ndarray
    jammer_freq_mhz: np.ndarray
    jammer_to_carrier: np.ndarray  # (J, F)
    carrier_mhz: np.ndarray  # (F,) distinct cell frequencies
    noise_mw: float

    @classmethod
    def of(cls, model: RadioModel) -> Transmitters:
        cells, jammers = model.cells, model.jammers
        cell_freq = np.array([c.freq_mhz for c in cells], dtype=float)
        carrier_mhz, cell_carrier = np.unique(cell_freq, return_inverse=True)
        jammer_freq = np.array([j.freq_mhz for j in jammers], dtype=float)
        jammer_width = np.array([j.bandwidth_mhz for j in jammers], dtype=float)
        return cls(
            cell_id=np.arange(len(cells)),
            cell_xy_km=np.array([(c.x_km, c.y_km) for c in cells], dtype=float).reshape(-1, 2),
            cell_eirp_dbm=np.array([c.eirp_dbm for c in cells], dtype=float),
            cell_pilot_db=np.array([c.pilot_fraction_db for c in cells], dtype=float),
            cell_height_m=np.array([c.height_m for c in cells], dtype=float),
            cell_freq_mhz=cell_freq,
            cell_is_foreign=np.array([c.kind == "foreign" for c in cells], dtype=bool),
            cell_peak_mbps=np.array([c.peak_rate_mbps for c in cells], dtype=float),
            cell_carrier=cell_carrier.reshape(-1),
            cell_to_carrier=band_overlap(
                cell_freq, np.full(len(cells), CARRIER_WIDTH_MHZ), carrier_mhz
            ),
            jammer_id=np.arange(len(jammers)),
            jammer_xy_km=np.array([(j.x_km, j.y_km) for j in jammers], dtype=float).reshape(-1, 2),
            jammer_eirp_dbm=np.array([j.eirp_dbm for j in jammers], dtype=float),
            jammer_height_m=np.array([j.height_m for j in jammers], dtype=float),
            jammer_freq_mhz=jammer_freq,
            jammer_to_carrier=band_overlap(jammer_freq, jammer_width, carrier_mhz),
            carrier_mhz=carrier_mhz,
            noise_mw=float(dbm_to_mw(thermal_noise_dbm(model.link.noise_figure_db))),
        )

    def subset(self, cells: np.ndarray, jammers: np.ndarray) -> Transmitters:
        """The given cells and jammers (index arrays into this instance's rows)."""
        cell_fields = [name for name in self.__dataclass_fields__ if name.startswith("cell_")]
        jammer_fields = [name for name in self.__dataclass_fields__ if name.startswith("jammer_")]
        return replace(
            self,
            **{name: getattr(self, name)[cells] for name in cell_fields},
            **{name: getattr(self, name)[jammers] for name in jammer_fields},
        )


def reach_km(
    model: RadioModel,
    tx: Transmitters,
    mobile_height_m: float,
    *,
    margin_db: float = 0.0,
    truncation_sigma: float = SHADOW_TRUNCATION_SIGMA,
) -> tuple[np.ndarray, np.ndarray]:
    """(cell reach, jammer reach) in km: beyond it the transmitter arrives below
    min(noise floor, Qrxlevmin - pilot share for a cell) - `margin_db`, whatever the clutter
    of the map and with shadowing at +`truncation_sigma` sigma.

    COST-231 Hata is A + B log10(d) beyond MIN_DISTANCE_KM, so the distance is closed-form.
    """
    noise_dbm = float(mw_to_dbm(tx.noise_mw))
    shadow_db = truncation_sigma * model.shadowing_db
    environments = {model.countryside_environment} | {t.environment for t in model.towns}
    codes = np.array([environment_code(name) for name in sorted(environments)])

    def reach(eirp_dbm, height_m, freq_mhz, floor_dbm):
        out = np.empty(len(eirp_dbm))
        for index in range(len(eirp_dbm)):
            at_1km = cost231_hata_loss_db(
                freq_mhz[index], height_m[index], mobile_height_m, 1.0, codes
            ).min()
            slope = 44.9 - 6.55 * np.log10(height_m[index])
            budget_db = eirp_dbm[index] + shadow_db - floor_dbm[index] + margin_db
            out[index] = max(10.0 ** ((budget_db - at_1km) / slope), MIN_DISTANCE_KM)
        return out

    cell_floor = np.minimum(noise_dbm, model.selection.qrxlevmin_dbm - tx.cell_pilot_db)
    jammer_floor = np.full(len(tx.jammer_eirp_dbm), noise_dbm)
    return (
        reach(tx.cell_eirp_dbm, tx.cell_height_m, tx.cell_freq_mhz, cell_floor),
        reach(tx.jammer_eirp_dbm, tx.jammer_height_m, tx.jammer_freq_mhz, jammer_floor),
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
    """(N, K) median received power of K transmitters at N points, in the points' precision."""
    dtype = np.result_type(x_km, np.float32)
    x_km, y_km = (np.asarray(v, dtype=dtype)[:, None] for v in (x_km, y_km))
    distance_km = np.hypot(x_km - xy_km[:, 0].astype(dtype), y_km - xy_km[:, 1].astype(dtype))
    mobile_height_m = np.asarray(mobile_height_m, dtype=dtype)
    if mobile_height_m.ndim == 1:
        mobile_height_m = mobile_height_m[:, None]
    loss_db = cost231_hata_loss_db(
        freq_mhz, height_m, mobile_height_m, distance_km, np.asarray(env)
    )
    return eirp_dbm.astype(dtype) - loss_db


@dataclass(frozen=True)
class ReceivedPower:
    """Median-plus-shadowing power received from each cell (dBm, mW, and its pilot in mW) and
    each jammer (mW)."""

    cell_dbm: np.ndarray  # (N, C)
    cell_mw: np.ndarray  # (N, C)
    pilot_mw: np.ndarray  # (N, C) RSCP
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
    cell_mw = dbm_to_mw(cell_dbm)
    pilot_mw = cell_mw * dbm_to_mw(tx.cell_pilot_db).astype(cell_mw.dtype)
    return ReceivedPower(cell_dbm, cell_mw, pilot_mw, dbm_to_mw(jammer_dbm))


def data_share(tx: Transmitters) -> np.ndarray:
    """eta per cell: its power share left for data after the pilot and the common channels."""
    return np.clip(1.0 - dbm_to_mw(tx.cell_pilot_db) - COMMON_CHANNELS_SHARE, 0.0, 1.0)


@dataclass(frozen=True)
class DownlinkQuality:
    """Per point and cell, from the power on each cell's carrier: the ranking Ec/No (the
    Ec/No of cells that pass Srxlev, 0 for the others), Ec/No, the S-criterion and SINR on
    demand (whole matrices, or at one cell per point)."""

    tx: Transmitters
    power: ReceivedPower
    on_own_carrier_mw: np.ndarray  # (N, C): N + T_f(c)
    ranking_ec_no: np.ndarray  # (N, C): Ec/No where Srxlev > 0, else 0
    qqualmin_ratio: float
    orthogonality: float

    @property
    def rscp_dbm(self) -> np.ndarray:
        return self.power.cell_dbm + self.tx.cell_pilot_db.astype(self.power.cell_dbm.dtype)

    @property
    def ec_no_ratio(self) -> np.ndarray:
        return self.power.pilot_mw / self.on_own_carrier_mw

    @property
    def ec_no_db(self) -> np.ndarray:
        return mw_to_dbm(self.ec_no_ratio)

    @property
    def suitable(self) -> np.ndarray:
        """S-criterion: Srxlev > 0 (folded into the ranking) and Squal > 0."""
        return self.ranking_ec_no > self.qqualmin_ratio

    def _sinr(self, signal_mw, on_carrier_mw, eta):
        dtype = signal_mw.dtype
        # everything but the cell itself, never below the noise (float rounding of T - S)
        others_mw = np.maximum(on_carrier_mw - signal_mw, dtype.type(self.tx.noise_mw))
        return (eta.astype(dtype) * signal_mw) / (
            dtype.type(1.0 - self.orthogonality) * signal_mw + others_mw
        )

    @property
    def sinr_ratio(self) -> np.ndarray:
        return self._sinr(self.power.cell_mw, self.on_own_carrier_mw, data_share(self.tx))

    @property
    def sinr_db(self) -> np.ndarray:
        return mw_to_dbm(self.sinr_ratio)

    def sinr_ratio_at(self, cell: np.ndarray) -> np.ndarray:
        """(N,) SINR of cell[i] at point i."""
        pick = cell[:, None]
        return self._sinr(
            np.take_along_axis(self.power.cell_mw, pick, 1)[:, 0],
            np.take_along_axis(self.on_own_carrier_mw, pick, 1)[:, 0],
            data_share(self.tx)[cell],
        )


def selectable_pilot_mw(model: RadioModel, tx: Transmitters, power: ReceivedPower) -> np.ndarray:
    """(N, C) RSCP in mW of the cells that pass Srxlev (RSCP > Qrxlevmin), 0 for the others:
    the same whichever jammers are on."""
    dtype = power.cell_dbm.dtype
    rscp_floor_dbm = (model.selection.qrxlevmin_dbm - tx.cell_pilot_db).astype(dtype)
    return np.where(power.cell_dbm > rscp_floor_dbm, power.pilot_mw, dtype.type(0.0))


def downlink_quality(
    model: RadioModel,
    tx: Transmitters,
    power: ReceivedPower,
    jammer_on: np.ndarray,
    orthogonality: float = ORTHOGONALITY_FACTOR,
    background_mw: np.ndarray | None = None,
    selectable_mw: np.ndarray | None = None,
) -> DownlinkQuality:
    """Pilot and data quality of every cell at every point, with the given jammers on.

    `background_mw` ((F,) or (N, F)) is power on each carrier from transmitters left out of
    `tx` (the far field of a pruned population run), added to the noise. `selectable_mw` is
    `selectable_pilot_mw(model, tx, power)` when the caller evaluates several jammer states.
    """
    dtype = power.cell_dbm.dtype
    signal_mw = power.cell_mw
    jammer_to_carrier = (tx.jammer_to_carrier * jammer_on[:, None]).astype(dtype)
    on_carrier_mw = (
        dtype.type(tx.noise_mw)
        + signal_mw @ tx.cell_to_carrier.astype(dtype)
        + power.jammer_mw @ jammer_to_carrier
    )
    if background_mw is not None:
        on_carrier_mw += np.asarray(background_mw, dtype=dtype)
    on_own_carrier_mw = on_carrier_mw[:, tx.cell_carrier]
    if selectable_mw is None:
        selectable_mw = selectable_pilot_mw(model, tx, power)
    return DownlinkQuality(
        tx,
        power,
        on_own_carrier_mw,
        selectable_mw / on_own_carrier_mw,
        float(dbm_to_mw(model.selection.qqualmin_db)),
        orthogonality,
    )


def best_cell(quality: DownlinkQuality, allowed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of the camped cell per point (best Ec/No among suitable allowed cells) and
    whether there is one. `allowed` is (C,) or (N, C) bool.

    The allowed cell with the best Ec/No among those passing Srxlev is suitable exactly when
    its Ec/No passes Squal (if it fails, every other fails too), so one argmax decides.
    """
    allowed = np.asarray(allowed, dtype=bool)
    n_points, n_cells = quality.ranking_ec_no.shape
    if allowed.ndim == 1:
        columns = np.flatnonzero(allowed)
        if not len(columns):
            return np.zeros(n_points, dtype=int), np.zeros(n_points, dtype=bool)
        first, last = int(columns[0]), int(columns[-1])
        # a contiguous block of columns (cells of one kind) is a view, not a copy
        part = slice(first, last + 1) if last - first + 1 == len(columns) else columns
        ranked = quality.ranking_ec_no[:, part]
        best = np.argmax(ranked, axis=1)
        found = np.take_along_axis(ranked, best[:, None], 1)[:, 0] > quality.qqualmin_ratio
        return (first + best if isinstance(part, slice) else columns[best]), found
    if n_cells == 0:
        return np.zeros(n_points, dtype=int), np.zeros(n_points, dtype=bool)
    ranked = np.where(allowed, quality.ranking_ec_no, 0.0)
    best = np.argmax(ranked, axis=1)
    return best, np.take_along_axis(ranked, best[:, None], 1)[:, 0] > quality.qqualmin_ratio
