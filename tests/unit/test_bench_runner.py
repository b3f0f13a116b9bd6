"""bench/run.py and bench/figure.py: discovery, the lock, the figure line (no benchmark runs)."""

import importlib.util
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _load(name: str):
    sys.path.insert(0, str(BENCH))
    try:
        spec = importlib.util.spec_from_file_location(f"bench_{name}_module", BENCH / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module   # dataclasses look their module up
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(BENCH))


figure = _load("figure")
run = _load("run")


def test_a_figure_line_reads_back_with_its_ratio(capsys):
    printed = figure.figure("bring-up time", 12.5, "s", "bare Mininet", 10.0)
    line = capsys.readouterr().out.strip()
    assert line.startswith("figure: bring-up time = 12.5 s | baseline (same run): bare Mininet")
    assert line.endswith("ratio 1.25")
    (read,) = figure.parse(f"noise\n{line}\nmore noise\n")
    assert read == printed and read.ratio == 1.25


def test_a_zero_baseline_has_no_ratio():
    assert figure.Figure("x", 1.0, "s", "b", 0.0).line().endswith("ratio n/a")
    line = "figure: x = 1 s | baseline (same run): b = 0 s | ratio n/a"
    assert figure.parse(line)[0].ratio is None


def test_every_benchmark_is_found_with_its_declarations():
    found = {b.name: b for b in run.discover()}
    assert {"policy_change", "delay_line", "radio_population"} <= set(found)
    assert found["policy_change"].emulation and not found["radio_population"].emulation
    assert found["delay_line"].quick_args == ("--quick",)


def test_emulation_benchmarks_run_under_the_lock_and_quick_adds_their_arguments(tmp_path):
    path = tmp_path / "bench_x.py"
    path.write_text('EMULATION = True\nQUICK_ARGS = ("--n", "3")\nprint("hi")\n')
    bench = run.declared(path)
    assert bench.name == "x"
    argv = run.command(bench, quick=True, lock="/tmp/some.lock")
    assert argv[:2] == ["flock", "/tmp/some.lock"] and argv[-2:] == ["--n", "3"]
    assert run.command(bench, quick=False, lock="/tmp/some.lock")[-1] == str(path)
    path.write_text('print("no declarations")\n')
    assert run.command(run.declared(path), quick=True)[0] == sys.executable


def test_a_benchmark_is_run_and_its_output_kept(tmp_path):
    script = tmp_path / "bench_y.py"
    script.write_text("print('figure: y = 2 s | baseline (same run): b = 1 s | ratio 2')\n")
    code, output, _ = run.run_one([sys.executable, str(script)], 60, tmp_path)
    assert code == 0 and figure.parse(output)[0].value == 2.0
    slow = tmp_path / "bench_z.py"
    slow.write_text("import time\ntime.sleep(30)\n")
    code, _, elapsed_s = run.run_one([sys.executable, str(slow)], 0.5, tmp_path)
    assert code is None and elapsed_s < 20
