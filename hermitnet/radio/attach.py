"""Attachments of the emulated UEs at one instant: serving cell, SINR, shared rate and loss."""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from hermitnet.radio.downlink import (
    Transmitters,
    best_cell,
    downlink_quality,
    environment_codes,
    received_power,
)
from hermitnet.radio.link import ip_loss_pct_from_sinr, rate_mbps_from_sinr
from hermitnet.radio.model import RadioModel


@dataclass(frozen=True)
class Attachment:
    """Where one emulated UE is camped at one instant and what its air link carries.

    `cell` and `cell_kind` are None when the UE has no suitable cell of its allowed kind; then
    `rate_mbps` is 0 and `loss_pct` 100, and `sinr_db` is that of the best allowed cell (None
    when the scenario has no cell of that kind).
    """

    ue: str
    cell: str | None
    cell_kind: str | None  # "national" | "foreign" | None
    sinr_db: float | None
    rate_mbps: float
    loss_pct: float
    ec_no_db: float | None
    position_km: tuple[float, float]


def link_shadowing_db(seed: int, ue_name: str, transmitter_name: str, sigma_db: float) -> float:
    """A fixed log-normal shadowing draw per (UE, transmitter) link, stable under the seed,
    independent of the order of UEs and cells, and unchanged as the UE walks."""
    if sigma_db == 0:
        return 0.0
    rng = np.random.default_rng(
        [seed, zlib.crc32(ue_name.encode()), zlib.crc32(transmitter_name.encode())]
    )
    return float(rng.normal(0.0, sigma_db))


def evaluate(model: RadioModel, t_s: float) -> dict[str, Attachment]:
    """Camp every emulated UE at time `t_s` (jammers per their schedule, UEs per their moves)."""
    if not model.ues:
        return {}
    tx = Transmitters.of(model)
    positions = np.array([ue.position_km(t_s) for ue in model.ues])
    x_km, y_km = positions[:, 0], positions[:, 1]
    sigma_db = model.shadowing_db
    cell_shadow = np.array(
        [
            [link_shadowing_db(model.seed, u.name, c.name, sigma_db) for c in model.cells]
            for u in model.ues
        ]
    ).reshape(len(model.ues), len(model.cells))
    jammer_shadow = np.array(
        [
            [link_shadowing_db(model.seed, u.name, j.name, sigma_db) for j in model.jammers]
            for u in model.ues
        ]
    ).reshape(len(model.ues), len(model.jammers))
    power = received_power(
        tx,
        x_km,
        y_km,
        environment_codes(model, x_km, y_km),
        np.array([ue.height_m for ue in model.ues]),
        cell_shadow,
        jammer_shadow,
    )
    quality = downlink_quality(model, tx, power, model.active_jammers(t_s))
    allowed = np.array(
        [[ue.allowed_cell_kind == cell.kind for cell in model.cells] for ue in model.ues]
    ).reshape(len(model.ues), len(model.cells))
    serving, attached = best_cell(quality, allowed)
    ues_per_cell = np.bincount(serving[attached], minlength=len(model.cells))
    attachments = {}
    for row, ue in enumerate(model.ues):
        position = (round(float(x_km[row]), 4), round(float(y_km[row]), 4))
        if attached[row]:
            index = int(serving[row])
            sinr_db = float(quality.sinr_db[row, index])
            rate_mbps = float(rate_mbps_from_sinr(sinr_db, tx.cell_peak_mbps[index], model.link))
            attachments[ue.name] = Attachment(
                ue=ue.name,
                cell=model.cells[index].name,
                cell_kind=model.cells[index].kind,
                sinr_db=round(sinr_db, 2),
                rate_mbps=round(rate_mbps / int(ues_per_cell[index]), 4),
                loss_pct=round(float(ip_loss_pct_from_sinr(sinr_db, model.link)), 3),
                ec_no_db=round(float(quality.ec_no_db[row, index]), 2),
                position_km=position,
            )
            continue
        options = np.flatnonzero(allowed[row])
        best = int(options[np.argmax(quality.ec_no_db[row, options])]) if len(options) else None
        attachments[ue.name] = Attachment(
            ue=ue.name,
            cell=None,
            cell_kind=None,
            sinr_db=None if best is None else round(float(quality.sinr_db[row, best]), 2),
            rate_mbps=0.0,
            loss_pct=100.0,
            ec_no_db=None if best is None else round(float(quality.ec_no_db[row, best]), 2),
            position_km=position,
        )
    return attachments
