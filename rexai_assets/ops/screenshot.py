"""Headless-Chromium screenshots of named Dagster UI pages, saved under the data root.

`rexai screenshot [--page NAME ...]` (or `python -m rexai_assets.ops.screenshot`) starts the Dagster webserver
alone (no daemon: capturing never ticks a sensor or starts a run) on a free local port, for the data root and
the Dagster home of the environment, and writes `<REXAI_DATA_ROOT>/docs/<file>` per page (PAGES):

* `graph` (`asset_graph.png`): the global asset graph;
* `proposal` (`proposal.png`): the latest `promotion_proposal` materialisation with its review page open;
* `history` (`history.png`): the latest `learning_history` materialisation, once per plot, top to bottom.

Pages without dialogs are rendered by `chromium --screenshot` on a virtual-time budget; dialogs are opened
over the DevTools protocol (`--remote-debugging-pipe`, standard library only). Every capture is rejected
when blank or still loading, and a dialog's capture when one of its images did not load.
Chromium is the Debian package `chromium` (`apt-get install -y chromium`).
"""

from __future__ import annotations

import argparse
import base64
import fcntl
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
# The global asset lineage page of the Dagster UI.
ASSET_GRAPH_PATH = "/asset-groups"
WINDOW = (1600, 1000)
# Virtual time lets the page's timers and data fetches run to completion before the capture.
VIRTUAL_TIME_BUDGET_MS = 15000


class ScreenshotError(RuntimeError):
    """Chromium is missing, failed, or produced an image that is blank or too small to be a page."""


def find_chromium() -> str | None:
    """REXAI_CHROMIUM if it exists, else the first Chromium of CHROMIUM_CANDIDATES installed, else None."""
    explicit = os.environ.get("REXAI_CHROMIUM")
    if explicit:
        return explicit if Path(explicit).exists() else None
    return next((c for c in CHROMIUM_CANDIDATES if Path(c).exists()), None)


BROWSER_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--no-first-run", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                 "--hide-scrollbars")


def chromium_command(chromium: str, url: str, out: Path, profile_dir: Path, window: tuple[int, int] = WINDOW,
                     budget_ms: int = VIRTUAL_TIME_BUDGET_MS) -> list[str]:
    """One `chromium --screenshot` of `url` after `budget_ms` of virtual time."""
    return [chromium, *BROWSER_FLAGS, f"--user-data-dir={profile_dir}", f"--screenshot={out}",
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


def _drawn_share(image: Any) -> tuple[int, float]:
    """(distinct colours up to 4096, share of pixels unlike the most common colour) of a PIL image."""
    colours = image.getcolors(maxcolors=4096)
    if colours is None:  # more than 4096 colours: certainly not an empty area
        return 4096, 1.0
    most = max(count for count, _ in colours)
    return len(colours), 1 - most / (image.size[0] * image.size[1])


def image_stats(path: Path) -> ImageStats:
    """Size, colours and drawn shares of a PNG (whole image and GRAPH_AREA)."""
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
    """Why an image is not a rendered page: wrong size, blank, or still loading (nothing beside the menu)."""
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


def require_chromium(chromium: str | None = None) -> str:
    """`chromium`, or the one installed; ScreenshotError when there is none."""
    chromium = chromium or find_chromium()
    if chromium is None:
        raise ScreenshotError("Chromium not found (install the Debian package `chromium`, or set REXAI_CHROMIUM)")
    return chromium


def take_screenshot(url: str, out: Path, chromium: str | None = None, window: tuple[int, int] = WINDOW,
                    budget_ms: int = VIRTUAL_TIME_BUDGET_MS, timeout_s: float = 120.0) -> ImageStats:
    """Render `url` in headless Chromium into `out` (PNG) and verify the image is a real page."""
    chromium = require_chromium(chromium)
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


# ---------------------------------------------------------------------------------------------
# Pages with dialogs: the DevTools protocol over a pipe


class DevTools:
    """Headless Chromium driven over `--remote-debugging-pipe`: one DevTools command at a time (stdlib)."""

    def __init__(self, chromium: str, profile_dir: Path, timeout_s: float = 60.0) -> None:
        self.timeout_s, self._last_id, self._buffer = timeout_s, 0, bytearray()
        self.log_path = profile_dir / "chromium.log"
        commands_in, self._commands = os.pipe()
        self._replies, replies_out = os.pipe()
        # Chromium reads commands on fd 3 and writes replies on fd 4. The child's ends go above 9 first,
        # so that placing one on 3 or 4 cannot overwrite the other.
        ends = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (commands_in, replies_out)]
        for fd in (commands_in, replies_out):
            os.close(fd)
        command = [chromium, *BROWSER_FLAGS, f"--user-data-dir={profile_dir}", "--remote-debugging-pipe",
                   "about:blank"]
        try:
            with open(self.log_path, "wb") as log:
                self.process = subprocess.Popen(
                    command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                    start_new_session=True, close_fds=False,
                    preexec_fn=lambda: (os.dup2(ends[0], 3), os.dup2(ends[1], 4)))
        except OSError as exc:
            os.close(self._commands)
            os.close(self._replies)
            raise ScreenshotError(f"cannot start Chromium: {exc}") from None
        finally:
            for fd in ends:
                os.close(fd)

    def __enter__(self) -> "DevTools":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, method: str, params: dict[str, Any] | None = None,
             session: str | None = None) -> dict[str, Any]:
        """Send one command and return its result (events that arrive meanwhile are dropped)."""
        self._last_id += 1
        message: dict[str, Any] = {"id": self._last_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        data = json.dumps(message).encode() + b"\0"
        while data:
            data = data[os.write(self._commands, data):]
        deadline = time.monotonic() + self.timeout_s
        while True:
            reply = self._read(deadline, method)
            if reply.get("id") == self._last_id:
                if "error" in reply:
                    raise ScreenshotError(f"Chromium {method}: {reply['error'].get('message')}")
                return reply.get("result", {})

    def _read(self, deadline: float, method: str) -> dict[str, Any]:
        """The next NUL-terminated JSON message from Chromium."""
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._replies], [], [], left)[0]:
                raise ScreenshotError(f"Chromium did not answer {method} within {self.timeout_s:.0f} s")
            chunk = os.read(self._replies, 1 << 20)
            if not chunk:
                raise ScreenshotError(f"Chromium exited (code {self.process.poll()}): see {self.log_path}")
            self._buffer += chunk
        end = self._buffer.index(b"\0")
        message, self._buffer = bytes(self._buffer[:end]), self._buffer[end + 1:]
        return json.loads(message)

    def close(self) -> None:
        """Close the browser, then make sure none of its processes (its own process group) is left."""
        if self.process.poll() is None:
            try:
                self.send("Browser.close")
                self.process.wait(timeout=10)
            except (ScreenshotError, OSError, subprocess.TimeoutExpired):
                pass
        try:
            os.killpg(self.process.pid, signal.SIGKILL)  # started with start_new_session: pid is the group id
        except ProcessLookupError:
            pass
        self.process.wait(timeout=10)
        for fd in (self._commands, self._replies):
            os.close(fd)


def evaluate(tools: DevTools, session: str, expression: str) -> Any:
    """The JSON value of a JavaScript expression in the page (promises awaited)."""
    params = {"expression": expression, "returnByValue": True, "awaitPromise": True}
    result = tools.send("Runtime.evaluate", params, session)
    if "exceptionDetails" in result:
        raise ScreenshotError(f"page script failed: {result['exceptionDetails'].get('text')}")
    return result["result"].get("value")


def wait_for(tools: DevTools, session: str, expression: str, timeout_s: float, what: str) -> Any:
    """Poll `expression` until it is truthy and return it; ScreenshotError naming `what` on timeout."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = evaluate(tools, session, expression)
        if value:
            return value
        if time.monotonic() > deadline:
            raise ScreenshotError(f"{what} not shown within {timeout_s:.0f} s")
        time.sleep(0.25)


def open_tab(tools: DevTools, url: str, window: tuple[int, int]) -> str:
    """A tab of `window` size loading `url`; its DevTools session id."""
    target = tools.send("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = tools.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    tools.send("Emulation.setDeviceMetricsOverride",
               {"width": window[0], "height": window[1], "deviceScaleFactor": 1, "mobile": False}, session)
    # The default buffer of 250 resource timings would fill with the UI's scripts and hide later fetches.
    tools.send("Page.addScriptToEvaluateOnNewDocument",
               {"source": "performance.setResourceTimingBufferSize(100000)"}, session)
    tools.send("Page.navigate", {"url": url}, session)
    return session


# Fetches the page completed so far: a count unchanged for QUIET_S means its data queries have answered.
FETCHES_JS = "performance.getEntriesByType('resource').length"
QUIET_S = 1.5


def wait_quiet(tools: DevTools, session: str, timeout_s: float, quiet_s: float = QUIET_S) -> None:
    """Wait until the page fetched nothing new for `quiet_s` (one that never settles is captured anyway)."""
    deadline, last, since = time.monotonic() + timeout_s, -1, time.monotonic()
    while time.monotonic() < deadline:
        count = evaluate(tools, session, FETCHES_JS)
        if count != last:
            last, since = count, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            return
        time.sleep(0.25)


# The "[Show Markdown]" link in the metadata row whose first cell is the entry's label. Dagster shows a
# markdown value longer than 1,000 characters (any embedded plot) only in a dialog behind that link.
ENTRY_LINK_JS = """(label => {
  const row = [...document.querySelectorAll('tr')]
    .find(r => r.cells.length > 1 && r.cells[0].textContent.trim() === label);
  return row ? [...row.querySelectorAll('*')]
    .find(e => !e.children.length && e.textContent.trim() === '[Show Markdown]') : null;
})"""
DIALOG = ".bp5-dialog, [role=dialog]"
# The images of the open dialog: how many, how many still loading, how many failed (no pixels).
DIALOG_IMAGES_JS = """(() => {
  const dialog = document.querySelector('%s');
  if (!dialog) return null;
  const images = [...dialog.querySelectorAll('img')];
  return {images: images.length, pending: images.filter(i => !i.complete).length,
          broken: images.filter(i => i.complete && !i.naturalWidth).length};
})()""" % DIALOG
# Blueprint's dialogs fade and zoom in (about 300 ms): capture after the transition.
DIALOG_SETTLE_S = 1.0


def open_entry(tools: DevTools, session: str, label: str, timeout_s: float) -> dict[str, int]:
    """Open the markdown dialog of metadata entry `label` once all its images loaded; their counts."""
    link = f"{ENTRY_LINK_JS}({json.dumps(label)})"
    wait_for(tools, session, f"!!{link}", timeout_s,
             f"metadata entry {label!r} with a [Show Markdown] link (is the asset materialised in this home?)")
    wait_quiet(tools, session, timeout_s)  # the rest of the page (the event list) loads after the metadata
    evaluate(tools, session, f"{link}.click()")
    counts = wait_for(tools, session, f"(c => c && c.images && !c.pending ? c : null)({DIALOG_IMAGES_JS})",
                      timeout_s, f"the images of {label!r}")
    if counts["broken"]:
        raise ScreenshotError(f"{counts['broken']} of {counts['images']} image(s) of {label!r} not rendered")
    time.sleep(DIALOG_SETTLE_S)
    return counts


def close_dialog(tools: DevTools, session: str, timeout_s: float) -> None:
    """Escape closes the dialog; wait until it is gone."""
    for kind in ("keyDown", "keyUp"):
        tools.send("Input.dispatchKeyEvent", {"type": kind, "key": "Escape", "code": "Escape",
                                              "windowsVirtualKeyCode": 27}, session)
    wait_for(tools, session, f"!document.querySelector('{DIALOG}')", timeout_s, "the page without its dialog")


def stack_pngs(parts: Sequence[Path], out: Path) -> None:
    """One PNG of `parts` top to bottom."""
    from PIL import Image

    images = [Image.open(p).convert("RGB") for p in parts]
    sheet = Image.new("RGB", (max(i.width for i in images), sum(i.height for i in images)), "white")
    top = 0
    for image in images:
        sheet.paste(image, (0, top))
        top += image.height
    sheet.save(out, optimize=True)


def capture_dialogs(url: str, entries: Sequence[str], out: Path, chromium: str | None = None,
                    window: tuple[int, int] = WINDOW, timeout_s: float = 60.0) -> ImageStats:
    """Capture `url` once per markdown entry (dialog open, images loaded), stacked into `out` (PNG)."""
    chromium = require_chromium(chromium)
    out = Path(out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="rexai-chromium-") as tmp, \
            DevTools(chromium, Path(tmp), timeout_s) as tools:
        session = open_tab(tools, url, window)
        parts: list[Path] = []
        for label in entries:
            open_entry(tools, session, label, timeout_s)
            parts.append(Path(tmp) / f"part{len(parts)}.png")
            png = tools.send("Page.captureScreenshot", {"format": "png"}, session)["data"]
            parts[-1].write_bytes(base64.b64decode(png))
            problems = screenshot_problems(image_stats(parts[-1]), window)
            if problems:
                raise ScreenshotError(f"{url} ({label}): not a rendered page: {'; '.join(problems)}")
            close_dialog(tools, session, timeout_s)
        # Written beside the target and renamed: a failed capture never leaves a half-written PNG.
        partial = out.with_name(f".{out.name}.partial.png")
        stack_pngs(parts, partial)
        os.replace(partial, out)
    return image_stats(out)


# ---------------------------------------------------------------------------------------------
# Named pages, one server for all


@dataclass(frozen=True)
class Page:
    """A UI page to capture: its path, its file under docs/, its markdown entries to open (a capture each)."""

    path: str
    file: str
    entries: tuple[str, ...] = ()
    window: tuple[int, int] = WINDOW


# An asset's Events tab shows its latest materialisation with all its metadata.
PAGES = {
    "graph": Page(ASSET_GRAPH_PATH, "asset_graph.png"),
    # Tall enough for the whole review page: its dialog scrolls inside the window otherwise.
    "proposal": Page("/assets/promotion_proposal?view=events", "proposal.png", ("review_page",),
                     (1600, 2400)),
    "history": Page("/assets/learning_history?view=events", "history.png",
                    ("error_per_version", "predicted_vs_measured", "coverage_per_version")),
}


def palette_png(path: Path) -> None:
    """Rewrite a PNG with 256 colours (a UI screenshot stays legible at about a third of the bytes)."""
    from PIL import Image

    with Image.open(path) as image:
        small = image.convert("RGB").quantize(256, method=Image.Quantize.FASTOCTREE)
    small.save(path, optimize=True)


def capture_page(base_url: str, page: Page, out: Path, chromium: str | None = None,
                 budget_ms: int = VIRTUAL_TIME_BUDGET_MS) -> ImageStats:
    """Capture one page of the UI at `base_url` into `out`, opening its markdown entries if it has any."""
    if page.entries:
        return capture_dialogs(f"{base_url}{page.path}", page.entries, out, chromium, page.window)
    return take_screenshot(f"{base_url}{page.path}", out, chromium, page.window, budget_ms)


def screenshot_pages(data_root: Path, shots: Sequence[tuple[Page, Path]], dagster_home: Path | None = None,
                     budget_ms: int = VIRTUAL_TIME_BUDGET_MS, palette: bool = False) -> list[Path]:
    """Serve the UI of `data_root` and `dagster_home` (default: DAGSTER_HOME); capture each (page, PNG)."""
    from rexai_assets.ops.devserver import dagster_dev
    from rexai_assets.ops.pipeline import ensure_dagster_home

    home = Path(dagster_home) if dagster_home else ensure_dagster_home()
    chromium = require_chromium()  # before the server starts: no point serving pages nobody can capture
    with dagster_dev(Path(data_root).resolve(), home, webserver_only=True) as server:
        for page, out in shots:
            capture_page(server.url, page, out, chromium, budget_ms)
            if palette:
                palette_png(out)
    return [out for _, out in shots]


def named_shots(names: Sequence[str], out_dir: Path, out: Path | None = None,
                path: str | None = None) -> list[tuple[Page, Path]]:
    """(page, PNG) per page name, under `out_dir`; `path` and `out` replace a single page's path and file."""
    if (out or path) and len(names) != 1:
        raise ScreenshotError("--out and --path apply to a single --page")
    pages = [PAGES[name] for name in names]
    if path:
        pages = [Page(path, pages[0].file, pages[0].entries, pages[0].window)]
    return [(page, Path(out) if out else Path(out_dir) / page.file) for page in pages]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `rexai screenshot` and `python -m rexai_assets.ops.screenshot`."""
    parser.add_argument("--page", dest="pages", action="append", choices=sorted(PAGES),
                        help="page to capture, repeatable (default: graph): " + ", ".join(
                            f"{name} -> {page.file}" for name, page in PAGES.items()))
    parser.add_argument("--out-dir", type=Path, help="folder of the PNGs (default: <data root>/docs)")
    parser.add_argument("--dagster-home", type=Path, help="Dagster home to show (default: DAGSTER_HOME)")
    parser.add_argument("--out", type=Path, help="PNG path of a single page")
    parser.add_argument("--path", help="another UI path for a single page (e.g. /runs)")
    parser.add_argument("--budget-ms", type=int, default=VIRTUAL_TIME_BUDGET_MS,
                        help="Chromium virtual time budget of pages without dialogs")
    parser.add_argument("--palette", action="store_true",
                        help="256-colour PNGs, about a third of the size (for docs/)")


def run_from_args(args: argparse.Namespace) -> list[Path]:
    """Capture what the parsed options ask for; the PNG paths."""
    from rexai_assets.paths import default_data_root, layout

    data_root = default_data_root()
    shots = named_shots(args.pages or ["graph"], args.out_dir or layout(data_root).docs, args.out, args.path)
    return screenshot_pages(data_root, shots, args.dagster_home, args.budget_ms, args.palette)


def main(argv: list[str] | None = None) -> int:
    """`python -m rexai_assets.ops.screenshot`: the PNG paths, or one line saying what failed."""
    parser = argparse.ArgumentParser(prog="python -m rexai_assets.ops.screenshot",
                                     description=__doc__.splitlines()[0])
    add_arguments(parser)
    try:
        outs = run_from_args(parser.parse_args(argv))
    except Exception as exc:  # one line for the user, whatever failed (server, Chromium, image)
        print(f"screenshot: {exc}".splitlines()[0], file=sys.stderr)
        return 1
    print("\n".join(map(str, outs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
