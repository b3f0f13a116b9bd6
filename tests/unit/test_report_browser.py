"""report.html as a person sees it: rendered by headless Chromium (Debian's chromium package).

A copy of the page gets a script that, once the page has loaded, records into the DOM which
sections and images are there and visible, and which elements overflow their box (text cut
off or spilling out: scrollWidth > clientWidth); Chromium dumps the DOM and the test reads the
record back. No root, no network: the record is built from the results fixture.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from hermitnet import report, scenario
from tests.conftest import make_rich_record

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = next((found for name in ("chromium", "chromium-browser")
                 if (found := shutil.which(name))), None)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="needs headless Chromium (Debian's chromium package; `make test` installs it "
           "through the test-tools role)")

SECTIONS = ("scenario", "environment", "reachability", "remeasurements", "throughput", "rtt",
            "leakage", "counters", "radio", "files")
IMAGES = ("img-throughput", "img-counters", "img-timeline", "img-radio-map")
CHECK = """
<script>
window.addEventListener('load', () => {
  const visible = el => {
    const style = getComputedStyle(el), box = el.getBoundingClientRect();
    return style.display !== 'none' && style.visibility !== 'hidden' && box.width > 0 &&
      box.height > 0;
  };
  const out = {sections: {}, images: {}, overflowing: [], width: document.body.clientWidth};
  for (const id of SECTION_IDS) {
    const el = document.getElementById(id);
    out.sections[id] = el !== null && visible(el) && el.innerText.trim().length > 0;
  }
  for (const img of document.images) {
    out.images[img.id] = img.complete && img.naturalWidth > 0 && visible(img);
  }
  for (const el of document.body.querySelectorAll('*')) {
    if (el.tagName === 'SCRIPT' || el.id === 'check') continue;
    if (el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).display !== 'inline') {
      out.overflowing.push(`${el.tagName.toLowerCase()}#${el.id}.${el.className}: ` +
        el.innerText.slice(0, 80));
    }
  }
  const pre = document.createElement('pre');
  pre.id = 'check';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>
"""


def _chromium(*args: str, profile: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--no-first-run", "--hide-scrollbars", f"--user-data-dir={profile}", *args],
        capture_output=True, text=True, timeout=120, check=True)


def _with_check(page: Path, sections) -> Path:
    checked = page.with_name("checked.html")
    script = CHECK.replace("SECTION_IDS", json.dumps(list(sections)))
    checked.write_text(page.read_text().replace("</body>", script + "</body>"))
    return checked


def _seen(checked: Path, width: int, profile: Path) -> dict:
    done = _chromium(f"--window-size={width},1000", "--run-all-compositor-stages-before-draw",
                     "--virtual-time-budget=10000", "--dump-dom", checked.as_uri(),
                     profile=profile)
    found = re.search(r"<pre id=\"check\">(.*?)</pre>", done.stdout, re.S)
    assert found, f"the check did not run; Chromium said:\n{done.stderr[-2000:]}"
    return json.loads(html.unescape(found.group(1)))


@pytest.fixture(scope="module")
def rendered_report(tmp_path_factory):
    """report.html of a held border run (with its radio map), and a copy with the check."""
    from hermitnet.radio.mapplot import draw_run_map

    run_dir = tmp_path_factory.mktemp("report")
    border = scenario.load(REPO / "scenarios" / "border.yaml")
    draw_run_map(border.radio, run_dir / "radio-map.png", "border: every jammer on")
    page = report.write_html(make_rich_record(), run_dir)
    return page, _with_check(page, SECTIONS)


@pytest.mark.parametrize("width", [1280, 800])
def test_every_section_and_image_is_visible_and_nothing_overflows(rendered_report, width,
                                                                  tmp_path):
    seen = _seen(rendered_report[1], width, tmp_path / "profile")
    assert seen["sections"] == {key: True for key in SECTIONS}
    assert seen["images"] == {key: True for key in IMAGES}
    assert seen["overflowing"] == []


def test_the_matrix_of_the_largest_shipped_scenario_fits(tmp_path):
    """blocklist-2016: every subscriber x 17 sites, read on a narrow window."""
    loaded = scenario.load(REPO / "scenarios" / "blocklist-2016.yaml")
    data = make_rich_record()
    data["reachability"] = [
        {"tier": s.tier, "host": s.name, "site": site.name, "zone": site.zone,
         "ok": site.zone == "intranet", "accessible": site.zone == "intranet",
         "blocking": False if site.zone == "intranet" else "http-failure",
         "verdict": "accessible" if site.zone == "intranet" else "http-failure",
         "policy_expected": "accessible" if site.zone == "intranet" else "blocked"}
        for s in loaded.subscribers for site in loaded.sites]
    page = report.write_html(data, tmp_path)
    seen = _seen(_with_check(page, ["reachability"]), 800, tmp_path / "profile")
    assert seen["sections"] == {"reachability": True}
    assert seen["overflowing"] == []


def test_a_screenshot_shows_the_matrix_colours_and_the_plots(rendered_report, tmp_path):
    from PIL import Image

    page, _ = rendered_report
    shot = tmp_path / "report.png"
    _chromium("--window-size=1280,6000", f"--screenshot={shot}", page.as_uri(),
              profile=tmp_path / "profile")
    colours = {colour for _, colour in Image.open(shot).convert("RGB").getcolors(1 << 24)}
    assert (0xd8, 0xf5, 0xd0) in colours    # an 'ok' cell of the matrix
    assert (0xf5, 0xa3, 0xa3) in colours    # the smuggler's leak
    assert (0x3b, 0x7d, 0xd8) in colours    # the measured bars of the throughput plot
