"""Start `dagster dev` (or the webserver alone) on 127.0.0.1 for a home and data root, talk GraphQL to it,
stop it by pid.

Used by the UI and browser checks (tests and `rexai screenshot`, which serves the webserver alone so that
no sensor or schedule of the instance runs while it captures). Standard library only for HTTP.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from rexai_assets.settings import REPO_ROOT

HOST = "127.0.0.1"
DEFINITIONS_MODULE = "rexai_assets.definitions"

LOCATIONS_QUERY = """
query Locations {
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError {
          __typename
          ... on PythonError { message }
        }
      }
    }
    ... on PythonError { message }
  }
}
"""


class DevServerError(RuntimeError):
    """`dagster dev` did not come up (exited, never answered, or its code location failed to load)."""


def free_port(host: str = HOST) -> int | None:
    """A port that was free a moment ago on `host`, or None when nothing can be bound there."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((host, 0))
            return int(sock.getsockname()[1])
    except OSError:
        return None


def post_graphql(url: str, query: str, variables: dict[str, Any] | None = None, timeout_s: float = 30.0) -> dict:
    """POST one GraphQL query; the `data` member, or RuntimeError carrying the server's `errors`."""
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=timeout_s) as response:
        payload = json.loads(response.read().decode())
    if payload.get("errors"):
        raise RuntimeError(f"GraphQL errors: {json.dumps(payload['errors'])[:500]}")
    return payload["data"]


@dataclass
class DevServer:
    """A running `dagster dev`: its process (leader of its own process group), URL and log file."""

    process: subprocess.Popen
    port: int
    log_path: Path
    dagster_home: Path
    data_root: Path
    stopped: bool = field(default=False)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def graphql_url(self) -> str:
        return f"{self.url}/graphql"

    def graphql(self, query: str, variables: dict[str, Any] | None = None) -> dict:
        return post_graphql(self.graphql_url, query, variables)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def wait_until_loaded(self, timeout_s: float = 90.0) -> None:
        """Poll /graphql until every code location is LOADED; raise with the log tail otherwise."""
        deadline = time.monotonic() + timeout_s
        last = "no answer yet"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise DevServerError(f"dagster dev exited with code {self.process.returncode}:\n{self.log_tail()}")
            try:
                data = self.graphql(LOCATIONS_QUERY)
                workspace = data["workspaceOrError"]
                if workspace["__typename"] != "Workspace":
                    last = workspace.get("message", workspace["__typename"])
                else:
                    entries = workspace["locationEntries"]
                    for entry in entries:
                        error = entry.get("locationOrLoadError") or {}
                        if error.get("__typename") == "PythonError":
                            raise DevServerError(f"code location {entry['name']} failed to load: "
                                                 f"{error['message'].strip().splitlines()[-1]}")
                    if entries and all(e["loadStatus"] == "LOADED" for e in entries):
                        return
                    last = f"locations {[(e['name'], e['loadStatus']) for e in entries]}"
            except (urllib.error.URLError, ConnectionError, TimeoutError, json.JSONDecodeError) as exc:
                last = str(exc)
            time.sleep(0.5)
        raise DevServerError(f"dagster dev not ready after {timeout_s:.0f} s ({last}):\n{self.log_tail()}")

    def stop(self, grace_s: float = 20.0) -> None:
        """SIGTERM the process group, wait, then SIGKILL whatever is left of it."""
        if self.stopped:
            return
        self.stopped = True
        pgid = self.process.pid  # started with start_new_session: the leader's pid is the group id
        _signal_group(pgid, signal.SIGTERM)
        try:
            self.process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            _signal_group(pgid, signal.SIGKILL)
            self.process.wait(timeout=10)
        # The webserver, daemon and code server share the group; give them a moment, then make sure, and
        # wait for the killed ones too (on a loaded machine they outlived the return of this method).
        if not _group_gone_within(pgid, 5.0):
            _signal_group(pgid, signal.SIGKILL)
            _group_gone_within(pgid, 10.0)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


def _group_gone_within(pgid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while _group_alive(pgid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
    return True


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def write_instance_yaml(dagster_home: Path) -> Path:
    """A minimal dagster.yaml unless the home already has one: no telemetry, no first-visit modal, and
    queued runs launched within a second."""
    dagster_home.mkdir(parents=True, exist_ok=True)
    path = dagster_home / "dagster.yaml"
    if not path.exists():
        # nux: the "Join the Dagster community" dialog would cover the page in screenshots.
        # run_queue: the loop's runs wait in the queue for the daemon's next pass, every 5 s by default.
        path.write_text("telemetry:\n  enabled: false\nnux:\n  enabled: false\n"
                        "run_queue:\n  dequeue_interval_seconds: 1\n")
    return path


def dev_command(port: int, webserver_only: bool = False) -> list[str]:
    """`dagster dev` (webserver and daemon), or the webserver alone, behind the signal-resetting wrapper."""
    # The webserver alone serves the UI of an instance without ticking its sensors and schedules.
    server = ["dagster_webserver"] if webserver_only else ["dagster", "dev"]
    return [sys.executable, "-m", "rexai_assets.ops.exec_default_signals",
            sys.executable, "-m", *server, "-h", HOST, "-p", str(port), "-m", DEFINITIONS_MODULE]


def start_dev_server(data_root: Path, dagster_home: Path, port: int, extra_env: dict[str, str] | None = None,
                     webserver_only: bool = False) -> DevServer:
    """Launch `dagster dev` in its own process group; returns at once (see `DevServer.wait_until_loaded`)."""
    data_root, dagster_home = Path(data_root).resolve(), Path(dagster_home).resolve()
    write_instance_yaml(dagster_home)
    log_path = dagster_home / "dagster_dev.log"
    env = {**os.environ, "DAGSTER_HOME": str(dagster_home), "REXAI_DATA_ROOT": str(data_root),
           "PYTHONUNBUFFERED": "1", **(extra_env or {})}
    with open(log_path, "ab") as log:
        process = subprocess.Popen(dev_command(port, webserver_only), cwd=REPO_ROOT, env=env,
                                   stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    return DevServer(process, port, log_path, dagster_home, data_root)


@contextmanager
def dagster_dev(data_root: Path, dagster_home: Path, port: int | None = None, timeout_s: float = 90.0,
                extra_env: dict[str, str] | None = None, webserver_only: bool = False) -> Iterator[DevServer]:
    """`with dagster_dev(root, home) as server:` a loaded server, always stopped on exit."""
    port = port or free_port()
    if port is None:
        raise DevServerError(f"no free TCP port on {HOST}")
    server = start_dev_server(data_root, dagster_home, port, extra_env, webserver_only)
    try:
        server.wait_until_loaded(timeout_s)
        yield server
    finally:
        server.stop()
