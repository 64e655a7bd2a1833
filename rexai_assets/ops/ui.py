"""What the Dagster UI shows, read over GraphQL, compared with what `build_definitions()` defines.

`ui_state(graphql)` takes any callable `(query, variables) -> data` (e.g. `DevServer.graphql`), so the
comparison is testable without a server.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import dagster as dg

ASSETS_QUERY = """
query RexaiAssets {
  assetNodes {
    assetKey { path }
    groupName
    description
    kinds
    isMaterializable
    hasAssetChecks
    assetChecksOrError {
      __typename
      ... on AssetChecks { checks { name blocking } }
    }
  }
}
"""

INSTIGATORS_QUERY = """
query RexaiInstigators {
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries {
        name
        locationOrLoadError {
          __typename
          ... on RepositoryLocation {
            repositories {
              name
              sensors { name sensorState { status } }
              schedules { name scheduleState { status } }
            }
          }
          ... on PythonError { message }
        }
      }
    }
  }
}
"""

GraphQL = Callable[..., dict]


@dataclass(frozen=True)
class AssetView:
    group: str | None
    description: str | None
    kinds: tuple[str, ...]
    materializable: bool
    checks: frozenset[str]


@dataclass
class UiState:
    """Assets (by "a/b" key path), their checks, and every sensor / schedule with its status."""

    assets: dict[str, AssetView] = field(default_factory=dict)
    sensors: dict[str, str] = field(default_factory=dict)
    schedules: dict[str, str] = field(default_factory=dict)

    @property
    def groups(self) -> set[str]:
        return {a.group for a in self.assets.values() if a.group}


def ui_state(graphql: GraphQL) -> UiState:
    state = UiState()
    for node in graphql(ASSETS_QUERY)["assetNodes"]:
        checks_or_error = node.get("assetChecksOrError") or {}
        checks = frozenset(c["name"] for c in checks_or_error.get("checks", []))
        state.assets["/".join(node["assetKey"]["path"])] = AssetView(
            node["groupName"], node["description"], tuple(node["kinds"] or ()), bool(node["isMaterializable"]),
            checks)
    workspace = graphql(INSTIGATORS_QUERY)["workspaceOrError"]
    for entry in workspace.get("locationEntries", []):
        location = entry["locationOrLoadError"] or {}
        for repository in location.get("repositories", []):
            for sensor in repository["sensors"]:
                state.sensors[sensor["name"]] = sensor["sensorState"]["status"]
            for schedule in repository["schedules"]:
                state.schedules[schedule["name"]] = schedule["scheduleState"]["status"]
    return state


def expected_state(defs: dg.Definitions) -> UiState:
    """The same view computed from the definitions (statuses are what the code declares as default)."""
    graph = defs.resolve_asset_graph()
    checks: dict[dg.AssetKey, set[str]] = {}
    for check_key in graph.asset_check_keys:
        checks.setdefault(check_key.asset_key, set()).add(check_key.name)
    state = UiState()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        kinds = tuple(sorted(node.kinds)) if hasattr(node, "kinds") else ()
        state.assets[key.to_user_string()] = AssetView(node.group_name, node.description, kinds,
                                                       node.is_materializable, frozenset(checks.get(key, ())))
    repository = defs.get_repository_def()
    for sensor in repository.sensor_defs:
        state.sensors[sensor.name] = sensor.default_status.value
    for schedule in repository.schedule_defs:
        state.schedules[schedule.name] = schedule.default_status.value
    return state


def ui_problems(shown: UiState, expected: UiState, expected_groups: set[str]) -> list[str]:
    """Every difference that matters: missing groups/assets/checks, descriptions, kinds, non-RUNNING instigators."""
    problems: list[str] = []
    for group in sorted(expected_groups - shown.groups):
        problems.append(f"group {group!r} not shown in the UI")
    for key, want in sorted(expected.assets.items()):
        got = shown.assets.get(key)
        if got is None:
            problems.append(f"asset {key} not shown in the UI")
            continue
        if got.group != want.group:
            problems.append(f"asset {key}: group {got.group!r} in the UI, {want.group!r} in the code")
        if want.checks - got.checks:
            problems.append(f"asset {key}: checks {sorted(want.checks - got.checks)} not loaded in the UI")
        if want.materializable:
            if not (got.description or "").strip():
                problems.append(f"asset {key}: no description in the UI")
            if not got.kinds:
                problems.append(f"asset {key}: no kinds in the UI")
    for kind, shown_map, want_map in (("sensor", shown.sensors, expected.sensors),
                                      ("schedule", shown.schedules, expected.schedules)):
        for name in sorted(want_map):
            if name not in shown_map:
                problems.append(f"{kind} {name} not loaded in the UI")
        for name, status in sorted(shown_map.items()):
            if status != "RUNNING":
                problems.append(f"{kind} {name} is {status}, expected RUNNING")
    return problems
