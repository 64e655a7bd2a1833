"""A headless-Chromium screenshot of the Dagster asset graph page, saved under the data root.

`python -m rexai_assets.ops.screenshot [--out PATH]` starts `dagster dev` on a free local port for a
temporary Dagster home, opens the global asset graph and writes `<REXAI_DATA_ROOT>/docs/asset_graph.png`.
Chromium is the Debian package `chromium` (`apt-get install -y chromium`).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
# The global asset lineage page of the Dagster UI.
ASSET_GRAPH_PATH = "/asset-groups"
WINDOW = (1600, 1000)
# Virtual time lets the page's timers and data fetches run to completion before the capture.
VIRTUAL_TIME_BUDGET_MS = 15000


class ScreenshotError(RuntimeError):
    """Chromium is missing, failed, or produced an image that is blank or too small to be a page."""


def find_chromium() -> str | None:
    explicit = os.environ.get("REXAI_CHROMIUM")
    if explicit:
        return explicit if Path(explicit).exists() else None
    return next((c for c in CHROMIUM_CANDIDATES if Path(c).exists()), None)


def chromium_command(chromium: str, url: str, out: Path, profile_dir: Path, window: tuple[int, int] = WINDOW,
                     budget_ms: int = VIRTUAL_TIME_BUDGET_MS) -> list[str]:
    return [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--no-first-run", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
            "--hide-scrollbars", f"--user-data-dir={profile_dir}", f"--screenshot={out}",
            f"--window-size={window[0]},{window[1]}", f"--virtual-time-budget={budget_ms}", url]


# The part of the page where the asset graph is drawn (right of the navigation and asset list, below
# the header), as fractions of the window. A loading page shows only a spinner there.
GRAPH_AREA = (0.35, 0.12, 1.0, 1.0)


@dataclass(frozen=True)
class ImageStats:
    width: int
    height: int
    bytes: int
    colours: int        # distinct colours (4096 means "4096 or more")
    drawn: float        # share of pixels that differ from the most common colour
    graph_drawn: float  # the same share inside GRAPH_AREA


def _drawn_share(image) -> tuple[int, float]:
    colours = image.getcolors(maxcolors=4096)
    if colours is None:  # more than 4096 colours: certainly not an empty area
        return 4096, 1.0
    most = max(count for count, _ in colours)
    return len(colours), 1 - most / (image.size[0] * image.size[1])


def image_stats(path: Path) -> ImageStats:
    from PIL import Image

    with Image.open(path) as image:
        rgb = image.convert("RGB")
        width, height = rgb.size
        colours, drawn = _drawn_share(rgb)
        left, top, right, bottom = GRAPH_AREA
        _, graph_drawn = _drawn_share(rgb.crop((int(left * width), int(top * height),
                                                int(right * width), int(bottom * height))))
        return ImageStats(width, height, path.stat().st_size, colours, drawn, graph_drawn)


def screenshot_problems(stats: ImageStats, window: tuple[int, int] = WINDOW) -> list[str]:
    """Why an image is not the rendered asset graph: wrong size, blank, or still loading."""
    problems = []
    if (stats.width, stats.height) != window:
        problems.append(f"size {stats.width}x{stats.height}, expected {window[0]}x{window[1]}")
    if stats.colours < 16 or stats.drawn < 0.01:
        problems.append(f"a blank page ({stats.colours} colour(s), {stats.drawn:.1%} drawn)")
    if stats.graph_drawn < 0.02:
        problems.append(f"the graph area is empty ({stats.graph_drawn:.2%} drawn): still loading?")
    if stats.bytes < 10_000:
        problems.append(f"only {stats.bytes} bytes")
    return problems


def take_screenshot(url: str, out: Path, chromium: str | None = None, window: tuple[int, int] = WINDOW,
                    budget_ms: int = VIRTUAL_TIME_BUDGET_MS, timeout_s: float = 120.0) -> ImageStats:
    """Render `url` in headless Chromium into `out` (PNG) and verify the image is a real page."""
    chromium = chromium or find_chromium()
    if chromium is None:
        raise ScreenshotError("Chromium not found (install the Debian package `chromium`, or set REXAI_CHROMIUM)")
    out = Path(out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="rexai-chromium-") as profile:
        # Render beside the target and rename: a failed capture never leaves a half-written PNG.
        partial = out.with_name(f".{out.name}.partial.png")
        partial.unlink(missing_ok=True)
        command = chromium_command(chromium, url, partial, Path(profile), window, budget_ms)
        try:
            result = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                    timeout=timeout_s, start_new_session=True)
        except subprocess.TimeoutExpired:
            partial.unlink(missing_ok=True)
            raise ScreenshotError(f"Chromium did not finish within {timeout_s:.0f} s") from None
        if not partial.exists():
            tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
            raise ScreenshotError(f"Chromium wrote no screenshot (exit {result.returncode}): {' | '.join(tail)}")
        stats = image_stats(partial)
        problems = screenshot_problems(stats, window)
        if problems:
            partial.unlink(missing_ok=True)
            raise ScreenshotError(f"{url}: screenshot is not a rendered page: {'; '.join(problems)}")
        os.replace(partial, out)
    return stats


def screenshot_asset_graph(data_root: Path, dagster_home: Path | None = None, out: Path | None = None,
                           path: str = ASSET_GRAPH_PATH, budget_ms: int = VIRTUAL_TIME_BUDGET_MS) -> Path:
    """Start `dagster dev` for `data_root`, capture the asset graph page, stop the server; returns the PNG."""
    from rexai_assets.ops.devserver import dagster_dev
    from rexai_assets.paths import layout

    data_root = Path(data_root).resolve()
    out = Path(out) if out else layout(data_root).docs / "asset_graph.png"
    with tempfile.TemporaryDirectory(prefix="rexai-ui-home-") as tmp_home:
        home = Path(dagster_home) if dagster_home else Path(tmp_home)
        with dagster_dev(data_root, home) as server:
            take_screenshot(f"{server.url}{path}", out, budget_ms=budget_ms)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rexai_assets.ops.screenshot", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="PNG path (default: <REXAI_DATA_ROOT>/docs/asset_graph.png)")
    parser.add_argument("--path", default=ASSET_GRAPH_PATH, help=f"UI page to capture (default: {ASSET_GRAPH_PATH})")
    parser.add_argument("--budget-ms", type=int, default=VIRTUAL_TIME_BUDGET_MS, help="Chromium virtual time budget")
    args = parser.parse_args(argv)
    from rexai_assets.paths import default_data_root

    try:
        out = screenshot_asset_graph(default_data_root(), out=args.out, path=args.path, budget_ms=args.budget_ms)
    except Exception as exc:  # one line for the user, whatever failed (server, Chromium, image)
        print(f"screenshot: {exc}".splitlines()[0], file=sys.stderr)
        return 1
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
