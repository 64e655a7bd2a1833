"""The asset graph page, rendered by headless Chromium against a live `dagster dev`, saved under the data root."""

from __future__ import annotations

from pathlib import Path

import pytest

from rexai_assets.ops.devserver import DevServerError, dagster_dev, free_port
from rexai_assets.ops.screenshot import (ASSET_GRAPH_PATH, ScreenshotError, find_chromium, image_stats,
                                         screenshot_problems, take_screenshot)
from rexai_assets.paths import layout


def test_blank_and_loading_pages_are_rejected(tmp_path):
    from PIL import Image, ImageDraw

    blank = tmp_path / "blank.png"
    Image.new("RGB", (1600, 1000), "white").save(blank)
    assert any("blank page" in p for p in screenshot_problems(image_stats(blank)))
    # A navigation bar and a spinner but nothing where the graph goes: the UI is still loading.
    loading = Image.new("RGB", (1600, 1000), "white")
    draw = ImageDraw.Draw(loading)
    for i in range(40):
        draw.rectangle((0, 0, 240, 1000), fill=(245, 246, 248 - i % 3))
        draw.text((20, 20 + 22 * i), f"menu item {i}", fill=(i * 5, 40, 90))
    draw.ellipse((880, 480, 920, 520), outline=(120, 130, 140), width=3)
    loading.save(tmp_path / "loading.png")
    assert any("still loading" in p for p in screenshot_problems(image_stats(tmp_path / "loading.png")))


@pytest.mark.integration
def test_asset_graph_screenshot(data_root: Path, tmp_path: Path):
    chromium = find_chromium()
    if chromium is None:
        pytest.skip("Chromium is not installed (Debian: apt-get install -y chromium; or set REXAI_CHROMIUM)")
    port = free_port()
    if port is None:
        pytest.skip("no free TCP port can be bound on 127.0.0.1")
    out = layout(data_root).docs / "asset_graph.png"
    try:
        with dagster_dev(data_root, tmp_path / "dagster_home", port=port) as server:
            stats = take_screenshot(f"{server.url}{ASSET_GRAPH_PATH}", out, chromium=chromium)
    except (DevServerError, ScreenshotError) as exc:
        pytest.fail(str(exc))
    assert out.is_file() and out.stat().st_size == stats.bytes
    assert screenshot_problems(image_stats(out)) == []
    assert stats.graph_drawn > 0.02 and stats.colours >= 16
    assert not list(out.parent.glob(".*partial*")), "a partial screenshot was left behind"
