"""The coverage map: best-server SINR rasters, jammer footprints, cells and emulated UEs."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import ListedColormap  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from hermitnet.radio.attach import Attachment, evaluate  # noqa: E402
from hermitnet.radio.downlink import (  # noqa: E402
    Transmitters,
    best_cell,
    downlink_quality,
    environment_codes,
    received_power,
)
from hermitnet.radio.model import RadioModel  # noqa: E402

GRID_POINTS = 260
FOREIGN_COLOUR = "#d62728"
NATIONAL_COLOUR = "#1f77b4"
JAMMER_COLOUR = "#ff7f0e"


def all_jammers_on(model: RadioModel) -> RadioModel:
    """The model with every jammer switched on for good (the map's default state)."""
    always_on = tuple(
        replace(j, schedule=(), duty_cycle=None, initially_on=True) for j in model.jammers
    )
    return replace(model, jammers=always_on)


def draw_run_map(model: RadioModel, out_png: Path, title: str) -> Path:
    """The map of a run's report: UEs at their start positions, every jammer on."""
    jammers_on = all_jammers_on(model)
    draw_map(model, evaluate(jammers_on, 0.0), jammers_on.active_jammers(None), out_png, title)
    return out_png


def coverage_grid(model: RadioModel, jammer_on: np.ndarray, points: int = GRID_POINTS) -> dict:
    """Median (no shadowing) best-server SINR per kind on a grid, with and without jammers."""
    x_min, y_min, x_max, y_max = model.bounds_km
    xs = np.linspace(x_min, x_max, points)
    ys = np.linspace(y_min, y_max, int(points * (y_max - y_min) / (x_max - x_min)) or 2)
    gx, gy = np.meshgrid(xs, ys)
    x_km, y_km = gx.ravel(), gy.ravel()
    tx = Transmitters.of(model)
    power = received_power(
        tx, x_km, y_km, environment_codes(model, x_km, y_km), model.mobile_height_m
    )
    grid = {"x_km": xs, "y_km": ys}
    for label, state in (("jammed", jammer_on), ("unjammed", np.zeros_like(jammer_on))):
        quality = downlink_quality(model, tx, power, state)
        for kind, allowed in (("national", ~tx.cell_is_foreign), ("foreign", tx.cell_is_foreign)):
            index, camped = best_cell(quality, allowed)
            sinr_db = np.take_along_axis(quality.sinr_db, index[:, None], 1)[:, 0]
            grid[f"{kind}_{label}"] = np.where(camped, sinr_db, np.nan).reshape(gx.shape)
    foreign_side = model.border.is_foreign_side(x_km, y_km).reshape(gx.shape)
    grid["foreign_side"] = foreign_side
    return grid


def _scale_bar(ax, model: RadioModel) -> None:
    x_min, y_min, x_max, y_max = model.bounds_km
    length_km = max(1, int(round((x_max - x_min) / 5 / 5.0)) * 5) or 1
    x0, y0 = x_min + 0.04 * (x_max - x_min), y_min + 0.05 * (y_max - y_min)
    ax.plot([x0, x0 + length_km], [y0, y0], color="black", linewidth=3, solid_capstyle="butt")
    ax.text(
        x0 + length_km / 2,
        y0 + 0.015 * (y_max - y_min),
        f"{length_km} km",
        ha="center",
        va="bottom",
        fontsize=9,
        fontweight="bold",
    )


def _side_text(model: RadioModel, attachments: dict[str, Attachment], jammer_on) -> str:
    lines = ["emulated UEs -> serving cell"]
    for attachment in attachments.values():
        sinr = "" if attachment.sinr_db is None else f" {attachment.sinr_db:+.0f} dB"
        lines.append(f" {attachment.ue:<11} {attachment.cell or 'no service'}{sinr}")
    lines += ["", "jammers"]
    for jammer, on in zip(model.jammers, jammer_on, strict=True):
        lines.append(f" {jammer.name:<16} {'on' if on else 'off'} {jammer.power_dbm:g} dBm")
    return "\n".join(lines)


def _label(ax, x_km: float, y_km: float, text: str, size: float, colour: str = "black"):
    artist = ax.text(
        x_km, y_km, text, fontsize=size, color=colour, zorder=8, ha="left", va="bottom",
        bbox={"boxstyle": "round,pad=0.12", "fc": "white", "alpha": 0.75, "lw": 0},
    )
    return artist, x_km, y_km


def _place_labels(ax, labels: list) -> None:
    """Move the labels of cells, jammers and UEs apart (adjustText), each off every marker, with
    a thin leader line back to its point when it had to move."""
    from adjustText import adjust_text  # only drawing a map needs it

    if not labels:
        return
    texts = [text for text, _, _ in labels]
    xs = [x for _, x, _ in labels]
    ys = [y for _, _, y in labels]
    ax.figure.canvas.draw()  # adjustText measures the texts as drawn
    adjust_text(
        texts, x=xs, y=ys, target_x=xs, target_y=ys, ax=ax, expand=(1.15, 1.4),
        force_text=(0.3, 0.5), force_static=(0.3, 0.5), max_move=(40, 40), iter_lim=500,
        arrowprops={"arrowstyle": "-", "color": "black", "lw": 0.6},
    )


def draw_map(
    model: RadioModel,
    attachments: dict[str, Attachment],
    jammer_on: np.ndarray,
    out_png: Path,
    title: str,
) -> None:
    """Write the map PNG: national coverage (blues), foreign reach (red), jammer footprint."""
    grid = coverage_grid(model, jammer_on)
    extent = model.bounds_km[0], model.bounds_km[2], model.bounds_km[1], model.bounds_km[3]
    fig, ax = plt.subplots(figsize=(11, 8.5), dpi=110)
    national = np.where(grid["foreign_side"], np.nan, grid["national_jammed"])
    image = ax.imshow(
        national,
        origin="lower",
        extent=extent,
        cmap="Blues",
        vmin=-10,
        vmax=25,
        alpha=0.75,
        interpolation="bilinear",
    )
    foreign_reach = np.isfinite(grid["foreign_jammed"]) & ~grid["foreign_side"]
    ax.imshow(
        np.where(foreign_reach, 1.0, np.nan),
        origin="lower",
        extent=extent,
        cmap=ListedColormap([FOREIGN_COLOUR]),
        alpha=0.35,
        interpolation="nearest",
    )
    denied = np.isfinite(grid["foreign_unjammed"]) & ~np.isfinite(grid["foreign_jammed"])
    denied &= ~grid["foreign_side"]
    if denied.any():
        ax.contourf(
            grid["x_km"],
            grid["y_km"],
            denied.astype(float),
            levels=[0.5, 1.5],
            colors="none",
            hatches=["////"],
        )
        ax.contour(
            grid["x_km"],
            grid["y_km"],
            denied.astype(float),
            levels=[0.5],
            colors=JAMMER_COLOUR,
            linewidths=1.5,
        )
    ax.imshow(
        np.where(grid["foreign_side"], 1.0, np.nan),
        origin="lower",
        extent=extent,
        cmap=ListedColormap(["#dddddd"]),
        alpha=0.8,
        interpolation="nearest",
    )
    border = np.array(model.border.points_km)
    ax.plot(border[:, 0], border[:, 1], color="black", linewidth=2.5)
    for town in model.towns:
        ax.add_patch(
            plt.Circle(
                (town.x_km, town.y_km), town.radius_km, fill=False, linestyle=":", color="black"
            )
        )
        ax.text(
            town.x_km,
            town.y_km - town.radius_km - 0.4,
            town.name,
            ha="center",
            va="top",
            fontsize=10,
            fontweight="bold",
        )
    palette = plt.get_cmap("tab10")
    labels: list = []  # (text, x_km, y_km) of every cell, jammer and UE: placed at the end
    cell_colour = {}
    for index, cell in enumerate(model.cells):
        colour = palette(index % 10)
        cell_colour[cell.name] = colour
        marker = "^" if cell.kind == "national" else "v"
        ax.scatter(
            cell.x_km, cell.y_km, marker=marker, s=140, color=colour, edgecolor="black", zorder=5
        )
        labels.append(_label(ax, cell.x_km, cell.y_km, cell.name, 8))
    for jammer, on in zip(model.jammers, jammer_on, strict=True):
        ax.scatter(
            jammer.x_km,
            jammer.y_km,
            marker="X",
            s=160,
            zorder=6,
            color=JAMMER_COLOUR if on else "white",
            edgecolor="black",
        )
        labels.append(_label(ax, jammer.x_km, jammer.y_km, jammer.name, 7, colour="#7a3b00"))
    for ue in model.ues:
        path = np.array([(x, y) for _, x, y in ue.waypoints])
        if len(path) > 1:
            ax.plot(path[:, 0], path[:, 1], linestyle="--", color="black", linewidth=1)
        attachment = attachments[ue.name]
        colour = cell_colour.get(attachment.cell, "white")
        x_km, y_km = attachment.position_km
        ax.scatter(
            x_km, y_km, marker="o", s=90, color=colour, edgecolor="black", linewidth=1.5, zorder=7
        )
        labels.append(_label(ax, x_km, y_km, ue.name, 7))
    _scale_bar(ax, model)
    legend = [
        Patch(color=FOREIGN_COLOUR, alpha=0.35, label="foreign cell reachable (national side)"),
        Patch(
            facecolor="white",
            edgecolor=JAMMER_COLOUR,
            hatch="////",
            label="jammer footprint: foreign reach denied",
        ),
        Patch(color="#dddddd", label="across the border"),
        Line2D([], [], color="black", linewidth=2.5, label="border"),
        Line2D(
            [],
            [],
            marker="^",
            linestyle="",
            color="grey",
            markeredgecolor="black",
            markersize=10,
            label="national cell",
        ),
        Line2D(
            [],
            [],
            marker="v",
            linestyle="",
            color="grey",
            markeredgecolor="black",
            markersize=10,
            label="foreign cell",
        ),
        Line2D(
            [],
            [],
            marker="X",
            linestyle="",
            color=JAMMER_COLOUR,
            markeredgecolor="black",
            markersize=10,
            label="jammer (white: off)",
        ),
        Line2D(
            [],
            [],
            marker="o",
            linestyle="",
            color="grey",
            markeredgecolor="black",
            markersize=9,
            label="UE, coloured as its serving cell",
        ),
    ]
    ax.legend(
        handles=legend, loc="upper left", bbox_to_anchor=(1.16, 1.0), fontsize=8, frameon=False
    )
    ax.text(
        1.17,
        0.56,
        _side_text(model, attachments, jammer_on),
        transform=ax.transAxes,
        fontsize=8,
        va="top",
        family="monospace",
    )
    colorbar = fig.colorbar(image, ax=ax, fraction=0.035, pad=0.02)
    colorbar.set_label("national best-server SINR (dB, median)")
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])
    ax.set_xlabel("x (km)")
    ax.set_ylabel("y (km)")
    ax.set_title(title, fontsize=11)
    ax.set_aspect("equal")
    _place_labels(ax, labels)
    fig.savefig(out_png, bbox_inches="tight")
    plt.close(fig)
