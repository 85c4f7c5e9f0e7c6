"""The HTML report as a browser shows it: headless Chromium renders a non-blank page whose DOM carries the
saving and each model's λ. Chromium comes from Debian (`make chromium`, a dependency of `make test`)."""

import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from perseus.report import write_report
from tests.unit.test_report_factory import PEAKS, sample_results

pytestmark = pytest.mark.integration

WIDTH, HEIGHT = 1280, 2400


def _chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    pytest.fail("headless Chromium is not installed: run `make chromium` (Debian package chromium)")


def _run(tmp_path: Path, *args: str) -> str:
    # A profile of its own: nothing is read from or left in the user's browser profile.
    command = [
        _chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--hide-scrollbars",
        f"--user-data-dir={tmp_path / 'profile'}",
        *args,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_chromium_renders_the_report(tmp_path: Path) -> None:
    page = write_report(sample_results(), tmp_path / "report").html
    url = page.resolve().as_uri()

    screenshot = tmp_path / "out.png"
    _run(tmp_path, f"--screenshot={screenshot}", f"--window-size={WIDTH},{HEIGHT}", url)
    assert screenshot.exists()
    with Image.open(screenshot) as image:
        assert image.size == (WIDTH, HEIGHT)
        rgb = image.convert("RGB")
        colours = rgb.getcolors(maxcolors=1 << 20) or []
        assert len(colours) > 200  # text, tables and embedded figures, not a blank page
        # The top of the page (title, headline, Fig 1) is drawn: far from all-white.
        top = rgb.crop((0, 0, WIDTH, 800)).convert("L")
        dark = sum(top.histogram()[:128])  # pixels darker than mid-grey
        assert dark > 2000

    dom = _run(tmp_path, "--dump-dom", url)
    # The headline: the point chosen as saving most (+6.3%), measured again after the choice (5.9%).
    assert "Multi-tenant serving saves 5.9%" in dom and "(+6.3% when chosen)" in dom
    assert "+6.3%" in dom
    for model, lam in PEAKS.items():
        assert model in dom and f"{lam:.1f}" in dom
    assert dom.count("data:image/png;base64,") == 2  # a frontier run: Fig 1 and Fig 2
