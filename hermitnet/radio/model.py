"""The radio model: a map in km with towns, cells, jammers and emulated UEs, all resolved.

`hermitnet.radio.parse` builds a RadioModel from a scenario's `radio:` section; every position
here is already in km (town references resolved) and every default filled in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

TECHNOLOGY_PEAK_MBPS = {
    "wcdma-r99": 0.384,  # 3GPP Release 99 dedicated channel, 384 kbit/s
    "hspa-7.2": 7.2,  # HSDPA category 7/8, 16QAM
    "hspa-14.4": 14.4,  # HSDPA category 10, 15 codes
    "hspa-21": 21.0,  # HSPA+ category 14, 64QAM
}
"""Downlink peak rate of a cell by technology class, the cap of the Shannon mapping."""

CARRIER_WIDTH_MHZ = 5.0
"""UMTS carrier spacing; cells interfere with each other in proportion to carrier overlap."""


@dataclass(frozen=True)
class Town:
    name: str
    x_km: float
    y_km: float
    population_weight: float
    radius_km: float
    spread_km: float
    environment: str


@dataclass(frozen=True)
class Cell:
    name: str
    kind: str  # "national" | "foreign"
    x_km: float
    y_km: float
    power_dbm: float
    gain_dbi: float
    pilot_fraction_db: float
    height_m: float
    freq_mhz: float
    technology: str

    @property
    def eirp_dbm(self) -> float:
        return self.power_dbm + self.gain_dbi

    @property
    def peak_rate_mbps(self) -> float:
        return TECHNOLOGY_PEAK_MBPS[self.technology]


@dataclass(frozen=True)
class DutyCycle:
    period_s: float
    on_fraction: float
    offset_s: float

    def is_on(self, t_s: float) -> bool:
        phase_s = (t_s - self.offset_s) % self.period_s
        return phase_s < self.on_fraction * self.period_s - 1e-9

    def edges_s(self, duration_s: float) -> list[float]:
        """Times in [0, duration_s) at which the jammer switches on or off."""
        edges: list[float] = []
        on_s = self.on_fraction * self.period_s
        k = math.floor((0.0 - self.offset_s) / self.period_s)
        while True:
            start_s = self.offset_s + k * self.period_s
            if start_s >= duration_s:
                return sorted(t for t in edges if 0.0 <= t < duration_s)
            edges.extend([start_s, start_s + on_s])
            k += 1


@dataclass(frozen=True)
class Jammer:
    name: str
    x_km: float
    y_km: float
    power_dbm: float
    gain_dbi: float
    height_m: float
    freq_mhz: float
    bandwidth_mhz: float
    initially_on: bool
    schedule: tuple[tuple[float, bool], ...] = ()  # (t_s, on), sorted by t_s
    duty_cycle: DutyCycle | None = None

    @property
    def eirp_dbm(self) -> float:
        return self.power_dbm + self.gain_dbi

    def is_on(self, t_s: float) -> bool:
        if self.duty_cycle is not None:
            return self.duty_cycle.is_on(t_s)
        state = self.initially_on
        for switch_t_s, on in self.schedule:
            if switch_t_s <= t_s:
                state = on
        return state

    def edges_s(self, duration_s: float) -> list[float]:
        if self.duty_cycle is not None:
            return self.duty_cycle.edges_s(duration_s)
        return [t for t, _ in self.schedule if 0.0 <= t < duration_s]


@dataclass(frozen=True)
class UserEquipment:
    """An emulated phone: it becomes a host in the emulation, attached by its serving cell."""

    name: str
    tier: str
    handset: str  # "national" | "foreign"
    height_m: float
    waypoints: tuple[tuple[float, float, float], ...]  # (t_s, x_km, y_km), first at t_s = 0

    @property
    def allowed_cell_kind(self) -> str:
        """A smuggled foreign handset uses foreign cells only; national SIMs national cells."""
        return "foreign" if self.handset == "foreign" else "national"

    def position_km(self, t_s: float) -> tuple[float, float]:
        """Straight-line walk between consecutive waypoints; stays at the last one."""
        times = [w[0] for w in self.waypoints]
        x_km = float(np.interp(t_s, times, [w[1] for w in self.waypoints]))
        y_km = float(np.interp(t_s, times, [w[2] for w in self.waypoints]))
        return x_km, y_km

    def moving_window_s(self) -> tuple[float, float] | None:
        """(first, last) waypoint time when the UE moves at all, else None."""
        if len(self.waypoints) < 2:
            return None
        return self.waypoints[0][0], self.waypoints[-1][0]


@dataclass(frozen=True)
class Border:
    """The border as a polyline with strictly increasing x; the foreign side is north or south."""

    points_km: tuple[tuple[float, float], ...]
    foreign_side: str  # "north" | "south"

    def is_foreign_side(self, x_km: np.ndarray, y_km: np.ndarray) -> np.ndarray:
        xs = [p[0] for p in self.points_km]
        ys = [p[1] for p in self.points_km]
        border_y_km = np.interp(x_km, xs, ys)
        return y_km > border_y_km if self.foreign_side == "north" else y_km < border_y_km

    def distance_km(self, x_km: np.ndarray, y_km: np.ndarray) -> np.ndarray:
        """Shortest distance from each point to the polyline."""
        x_km = np.asarray(x_km, dtype=float)
        y_km = np.asarray(y_km, dtype=float)
        best = np.full(np.broadcast(x_km, y_km).shape, np.inf)
        for (ax, ay), (bx, by) in zip(self.points_km, self.points_km[1:], strict=False):
            dx, dy = bx - ax, by - ay
            t = np.clip(((x_km - ax) * dx + (y_km - ay) * dy) / (dx * dx + dy * dy), 0.0, 1.0)
            best = np.minimum(best, np.hypot(x_km - (ax + t * dx), y_km - (ay + t * dy)))
        return best


@dataclass(frozen=True)
class SelectionThresholds:
    """UMTS idle-mode S-criterion (3GPP TS 25.304 5.2.3.1.2): Srxlev > 0 and Squal > 0."""

    qrxlevmin_dbm: float  # minimum CPICH RSCP
    qqualmin_db: float  # minimum CPICH Ec/No


@dataclass(frozen=True)
class LinkParameters:
    noise_figure_db: float
    shannon_attenuation: float
    sinr_min_db: float
    bler_midpoint_db: float
    bler_slope_db: float


@dataclass(frozen=True)
class PopulationParameters:
    countryside_share: float
    border_area_km: float


@dataclass(frozen=True)
class RadioModel:
    source: str
    seed: int
    bounds_km: tuple[float, float, float, float]  # x_min, y_min, x_max, y_max
    border: Border
    countryside_environment: str
    mobile_height_m: float
    shadowing_db: float
    reevaluate_s: float
    towns: tuple[Town, ...]
    cells: tuple[Cell, ...]
    jammers: tuple[Jammer, ...]
    ues: tuple[UserEquipment, ...]
    selection: SelectionThresholds
    link: LinkParameters
    population: PopulationParameters

    def cells_of_kind(self, kind: str) -> tuple[Cell, ...]:
        return tuple(cell for cell in self.cells if cell.kind == kind)

    def active_jammers(self, t_s: float | None) -> np.ndarray:
        """Boolean per jammer: on at `t_s`; `None` means every jammer on."""
        return np.array([t_s is None or j.is_on(t_s) for j in self.jammers], dtype=bool)

    def timeline_steps(self, duration_s: float) -> list[float]:
        """Times in [0, duration_s) at which attachments can change.

        0, every jammer schedule or duty-cycle edge, every waypoint time, and every
        `reevaluate_s` while any UE is moving.
        """
        steps = {0.0}
        for jammer in self.jammers:
            steps.update(jammer.edges_s(duration_s))
        for ue in self.ues:
            window = ue.moving_window_s()
            if window is None:
                continue
            steps.update(t for t, _, _ in ue.waypoints)
            t_s = window[0]
            while t_s < window[1]:
                steps.add(round(t_s, 9))
                t_s += self.reevaluate_s
        return sorted(t for t in steps if 0.0 <= t < duration_s)
