"""UI pages rendered by headless Chromium against a live Dagster webserver, saved under the data root: the
asset graph, and the proposal and history pages with their plots (markdown metadata) open."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from rexai_assets.ops.devserver import DevServerError, dagster_dev, free_port
from rexai_assets.ops.screenshot import (ASSET_GRAPH_PATH, PAGES, ScreenshotError, find_chromium, image_stats,
                                         named_shots, screenshot_pages, screenshot_problems, take_screenshot)
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


def measured_golden(n: int = 30) -> dict:
    """Stored measured golden rows: per target the measurements and both models' predictions."""
    from rexai_assets.gold.contract import TARGETS

    rng = np.random.default_rng(15)
    out = {}
    for target in TARGETS:
        y = rng.uniform(0.1, 0.9, n)
        out[target] = {"measured": y.tolist(), "challenger": (y + rng.normal(0, 0.03, n)).tolist(),
                       "champion": (y + rng.normal(0, 0.08, n)).tolist()}
    return out


def materialise_proposal_and_history() -> None:
    """A REVIEW proposal in the warehouse; its review page and the learning history as the latest
    materialisations of their assets in DAGSTER_HOME (what the UI shows), without training a model."""
    import dagster as dg

    from rexai_assets.evaluation import review
    from rexai_assets.resources import build_resources
    from rexai_assets.evaluation.trust_assets import learning_history
    from rexai_assets_tests.test_evaluation_review_page import stored_review

    measured = measured_golden()
    proposal = stored_review(measured)
    instance = dg.DagsterInstance.get()
    # The proposal asset's own run needs trained models; its review page is the same builder's markdown.
    instance.report_runless_asset_event(dg.AssetMaterialization("promotion_proposal", metadata={
        "proposal_id": proposal.proposal_id,
        "review_page": dg.MetadataValue.md(review.build_review_page(proposal, measured).markdown())}))
    assert dg.materialize([learning_history], instance=instance, resources=build_resources()).success


def bands(path: Path, height: int, tmp_path: Path) -> list[Path]:
    """The captures stacked in a page's PNG, one file each."""
    from PIL import Image

    with Image.open(path) as sheet:
        parts = [tmp_path / f"{path.stem}-{i}.png" for i in range(sheet.height // height)]
        for i, part in enumerate(parts):
            sheet.crop((0, i * height, sheet.width, (i + 1) * height)).save(part)
    return parts


@pytest.mark.integration
def test_proposal_and_history_pages_show_their_plots(data_root: Path, tmp_path: Path):
    chromium = find_chromium()
    if chromium is None:
        pytest.skip("Chromium is not installed (Debian: apt-get install -y chromium; or set REXAI_CHROMIUM)")
    materialise_proposal_and_history()
    docs = layout(data_root).docs
    try:  # raises when an entry's dialog is missing or one of its images did not render
        outs = screenshot_pages(data_root, named_shots(["proposal", "history"], docs),
                                Path(os.environ["DAGSTER_HOME"]))
    except (DevServerError, ScreenshotError) as exc:
        pytest.fail(str(exc))
    for out, name in zip(outs, ("proposal", "history")):
        page = PAGES[name]
        parts = bands(out, page.window[1], tmp_path)
        assert out == docs / page.file and len(parts) == len(page.entries)
        for part in parts:
            assert screenshot_problems(image_stats(part), page.window) == [], part
    assert not list(docs.glob(".*partial*")), "a partial screenshot was left behind"
