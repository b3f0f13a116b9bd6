"""The pictures: what the plots compute, and the map's labels placed apart."""

from __future__ import annotations

import itertools
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from hermitnet import plots  # noqa: E402
from hermitnet.radio.mapplot import _label, _place_labels  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


def test_counter_rates_are_per_second_and_restart_with_a_new_controller():
    series = [{"t_s": 0.0, "epoch": 1, "packets": {"citizen/allow": 0}},
              {"t_s": 2.0, "epoch": 1, "packets": {"citizen/allow": 20}},
              {"t_s": 3.0, "epoch": 2, "packets": {"citizen/allow": 4}}]   # restarted
    assert plots.counter_rates(series) == {"citizen/allow": [(2.0, 10.0), (3.0, 4.0)]}


def test_every_plot_with_data_is_drawn(tmp_path, rich_record):
    made = plots.write_all(rich_record(), tmp_path)
    assert set(made) == {"throughput", "timeline", "counters"}
    for path in made.values():
        assert path.read_bytes().startswith(b"\x89PNG")


def test_no_counters_plot_without_tier_decisions(tmp_path, results_record):
    assert "counters" not in plots.write_all(results_record(), tmp_path)


def test_map_labels_of_crowded_points_do_not_overlap():
    """A town's worth of cells, jammers and phones within a few hundred metres."""
    fig, ax = plt.subplots(figsize=(6, 5), dpi=100)
    points = [(20.0, 27.0), (20.3, 27.2), (20.5, 26.8), (21.0, 27.5), (22.6, 26.5),
              (23.5, 26.6), (24.0, 27.7), (21.5, 26.0)]
    ax.scatter(*zip(*points, strict=True))
    ax.set_xlim(0, 60)
    ax.set_ylim(0, 42)
    labels = [_label(ax, x, y, f"label-{i}-long", 8) for i, (x, y) in enumerate(points)]
    _place_labels(ax, labels)
    fig.canvas.draw()
    boxes = [text.get_window_extent() for text, _, _ in labels]
    overlapping = [(a, b) for a, b in itertools.combinations(range(len(boxes)), 2)
                   if boxes[a].overlaps(boxes[b])]
    plt.close(fig)
    assert overlapping == []


def test_the_timeline_plot_reads_records_made_before_per_step_counts(tmp_path, rich_record):
    """Older records hold cumulative arrived_bytes and no arrived_bytes_total."""
    rows = rich_record()["radio"]["timeline"]
    per_step = plots.flow_rate_kbps(rows, "smuggler-1->video")
    assert per_step == [0.0, 8.0, 0.0, 7.2]   # 1000 bytes in 1 s = 8 kbit/s
    total = 0
    for row in rows:
        total += row["arrived_bytes"]["smuggler-1->video"]
        row["arrived_bytes"]["smuggler-1->video"] = total
        del row["arrived_bytes_total"]
    assert plots.flow_rate_kbps(rows, "smuggler-1->video") == per_step
    assert plots.timeline_png({"scenario": "old", "radio": {"timeline": rows}},
                              tmp_path / "timeline.png") is not None
