"""A scenario's `radio:` section (already schema-checked) -> RadioModel, with the checks a
schema cannot say (unique names, known towns, a west-to-east border, waypoints in time order).

Pure: no file reading and no schema validation; `hermitnet.scenario` reads the file, validates
the whole document (the radio section against radio.schema.json) and then calls `parse`.
"""

from __future__ import annotations

from hermitnet.errors import HermitError
from hermitnet.radio.model import (
    Border,
    Cell,
    DutyCycle,
    Jammer,
    LinkParameters,
    PopulationParameters,
    RadioModel,
    SelectionThresholds,
    Town,
    UserEquipment,
)

SECTION = "radio"

CELL_DEFAULTS = {
    "national": {"power_dbm": 43.0, "height_m": 30.0, "freq_mhz": 2140.0, "technology": "hspa-7.2"},
    "foreign": {"power_dbm": 46.0, "height_m": 50.0, "freq_mhz": 2130.0, "technology": "hspa-21"},
}


class _Resolver:
    """Resolves positions (`position_km` or `town` + `offset_km`) against the parsed towns."""

    def __init__(self, towns: dict[str, Town], source: str):
        self.towns = towns
        self.source = source

    def position(self, item: dict, path: str) -> tuple[float, float]:
        has_position = "position_km" in item
        has_town = "town" in item
        if has_position == has_town:
            raise HermitError(
                "give exactly one of position_km or town", source=self.source, field=path
            )
        if has_position:
            if "offset_km" in item:
                raise HermitError(
                    "offset_km goes with town, not position_km", source=self.source, field=path
                )
            x_km, y_km = item["position_km"]
            return float(x_km), float(y_km)
        town = self.towns.get(item["town"])
        if town is None:
            raise HermitError(
                f"unknown town {item['town']!r}; expected one of: {', '.join(self.towns)}",
                source=self.source,
                field=f"{path}.town",
            )
        dx_km, dy_km = item.get("offset_km", (0.0, 0.0))
        return town.x_km + dx_km, town.y_km + dy_km


def _unique_names(section: dict, source: str) -> None:
    seen: dict[str, str] = {}
    for key in ("towns", "national_cells", "foreign_cells", "jammers", "ues"):
        for index, item in enumerate(section.get(key, [])):
            path = f"{SECTION}.{key}[{index}].name"
            if key != "towns" and item["name"] in seen:
                raise HermitError(
                    f"name {item['name']!r} already used at {seen[item['name']]}",
                    source=source,
                    field=path,
                )
            if key != "towns":
                seen[item["name"]] = path
    town_names = [t["name"] for t in section["towns"]]
    if len(set(town_names)) != len(town_names):
        raise HermitError("town names must be unique", source=source, field=f"{SECTION}.towns")


def _parse_border(section: dict, source: str) -> Border:
    points = tuple((float(x), float(y)) for x, y in section["border"]["points_km"])
    if any(b[0] <= a[0] for a, b in zip(points, points[1:], strict=False)):
        raise HermitError(
            "border x coordinates must strictly increase (the border runs west to east)",
            source=source,
            field=f"{SECTION}.border.points_km",
        )
    return Border(points_km=points, foreign_side=section["border"]["foreign_side"])


def _parse_town(item: dict) -> Town:
    radius_km = float(item.get("radius_km", 2.0))
    return Town(
        name=item["name"],
        x_km=float(item["position_km"][0]),
        y_km=float(item["position_km"][1]),
        population_weight=float(item["population_weight"]),
        radius_km=radius_km,
        spread_km=float(item.get("spread_km", radius_km)),
        environment=item.get("environment", "urban"),
    )


def _parse_cell(item: dict, kind: str, path: str, resolver: _Resolver) -> Cell:
    defaults = CELL_DEFAULTS[kind]
    x_km, y_km = resolver.position(item, path)
    return Cell(
        name=item["name"],
        kind=kind,
        x_km=x_km,
        y_km=y_km,
        power_dbm=float(item.get("power_dbm", defaults["power_dbm"])),
        gain_dbi=float(item.get("gain_dbi", 15.0)),
        pilot_fraction_db=float(item.get("pilot_fraction_db", -10.0)),
        height_m=float(item.get("height_m", defaults["height_m"])),
        freq_mhz=float(item.get("freq_mhz", defaults["freq_mhz"])),
        technology=item.get("technology", defaults["technology"]),
    )


def _parse_jammer(item: dict, path: str, resolver: _Resolver) -> Jammer:
    if "schedule" in item and "duty_cycle" in item:
        raise HermitError(
            "give a schedule or a duty_cycle, not both", source=resolver.source, field=path
        )
    duty = item.get("duty_cycle")
    x_km, y_km = resolver.position(item, path)
    return Jammer(
        name=item["name"],
        x_km=x_km,
        y_km=y_km,
        power_dbm=float(item.get("power_dbm", 47.0)),
        gain_dbi=float(item.get("gain_dbi", 10.0)),
        height_m=float(item.get("height_m", 30.0)),
        freq_mhz=float(item.get("freq_mhz", 2130.0)),
        bandwidth_mhz=float(item.get("bandwidth_mhz", 10.0)),
        initially_on=bool(item.get("initially_on", True)),
        schedule=tuple(
            sorted((float(e["t_s"]), bool(e["active"])) for e in item.get("schedule", []))
        ),
        duty_cycle=None
        if duty is None
        else DutyCycle(
            period_s=float(duty.get("period_s", 20.0)),
            on_fraction=float(duty["on_fraction"]),
            offset_s=float(duty.get("offset_s", 0.0)),
        ),
    )


def _parse_ue(item: dict, path: str, resolver: _Resolver, mobile_height_m: float) -> UserEquipment:
    x_km, y_km = resolver.position(item, path)
    waypoints = [(0.0, x_km, y_km)]
    for index, move in enumerate(item.get("moves", [])):
        t_s = float(move["t_s"])
        if t_s <= waypoints[-1][0]:
            raise HermitError(
                f"waypoint times must increase; {t_s} s follows {waypoints[-1][0]} s",
                source=resolver.source,
                field=f"{path}.moves[{index}].t_s",
            )
        waypoints.append((t_s, float(move["position_km"][0]), float(move["position_km"][1])))
    return UserEquipment(
        name=item["name"],
        tier=item["tier"],
        handset=item.get("handset", "national"),
        height_m=float(item.get("height_m", mobile_height_m)),
        waypoints=tuple(waypoints),
    )


def parse(section: dict, source: str, *, seed: int) -> RadioModel:
    """Build the RadioModel of a schema-valid `radio:` section; errors name file and field.

    `seed` is the scenario's seed, used unless the section sets its own `seed`.
    """
    _unique_names(section, source)
    border = _parse_border(section, source)
    towns = tuple(_parse_town(item) for item in section["towns"])
    resolver = _Resolver({town.name: town for town in towns}, source)
    propagation = section.get("propagation", {})
    mobile_height_m = float(propagation.get("mobile_height_m", 1.5))
    cells = tuple(
        _parse_cell(item, kind, f"{SECTION}.{key}[{index}]", resolver)
        for key, kind in (("national_cells", "national"), ("foreign_cells", "foreign"))
        for index, item in enumerate(section.get(key, []))
    )
    jammers = tuple(
        _parse_jammer(item, f"{SECTION}.jammers[{index}]", resolver)
        for index, item in enumerate(section.get("jammers", []))
    )
    ues = tuple(
        _parse_ue(item, f"{SECTION}.ues[{index}]", resolver, mobile_height_m)
        for index, item in enumerate(section.get("ues", []))
    )
    x_min, y_min, x_max, y_max = (float(v) for v in section["bounds_km"])
    if x_min >= x_max or y_min >= y_max:
        raise HermitError(
            "bounds_km is [x_min, y_min, x_max, y_max] with min < max",
            source=source,
            field=f"{SECTION}.bounds_km",
        )
    selection = section.get("selection", {})
    link = section.get("link", {})
    population = section.get("population", {})
    return RadioModel(
        source=source,
        seed=int(section.get("seed", seed)),
        bounds_km=(x_min, y_min, x_max, y_max),
        border=border,
        countryside_environment=section.get("countryside", "suburban"),
        mobile_height_m=mobile_height_m,
        shadowing_db=float(propagation.get("shadowing_db", 6.0)),
        reevaluate_s=float(section.get("reevaluate_s", 1.0)),
        towns=towns,
        cells=cells,
        jammers=jammers,
        ues=ues,
        selection=SelectionThresholds(
            qrxlevmin_dbm=float(selection.get("qrxlevmin_dbm", -115.0)),
            qqualmin_db=float(selection.get("qqualmin_db", -18.0)),
        ),
        link=LinkParameters(
            noise_figure_db=float(link.get("noise_figure_db", 7.0)),
            shannon_attenuation=float(link.get("shannon_attenuation", 0.6)),
            sinr_min_db=float(link.get("sinr_min_db", -10.0)),
            bler_midpoint_db=float(link.get("bler_midpoint_db", -8.0)),
            bler_slope_db=float(link.get("bler_slope_db", 1.0)),
        ),
        population=PopulationParameters(
            countryside_share=float(population.get("countryside_share", 0.2)),
            border_area_km=float(population.get("border_area_km", 16.0)),
        ),
    )
