"""Definition snapshot: the graph's shape (assets, groups, kinds, deps, checks, jobs, sensors, schedules)
is pinned, so a change to it shows up in review. Regenerate with REXAI_UPDATE_SNAPSHOTS=1 after a
deliberate change."""

from __future__ import annotations

import json
import os
from pathlib import Path

from rexai_assets.definitions import build_definitions

SNAPSHOT = Path(__file__).parent / "snapshots" / "definitions.json"


def graph_shape() -> dict:
    defs = build_definitions()
    graph = defs.resolve_asset_graph()
    assets = {}
    for key in sorted(graph.materializable_asset_keys, key=lambda k: k.to_user_string()):
        node = graph.get(key)
        spec = node.to_asset_spec()
        assets[key.to_user_string()] = {
            "group": node.group_name, "kinds": sorted(spec.kinds),
            "deps": sorted(d.to_user_string() for d in node.parent_keys),
            "partitioned": node.partitions_def is not None,
            "checks": sorted(f"{c.name}{' (blocking)' if c.blocking else ''}" for c in
                             (graph.get_check_spec(k) for k in graph.asset_check_keys if k.asset_key == key)),
        }
    return {
        "assets": assets,
        "jobs": sorted(j.name for j in defs.jobs),
        "sensors": sorted(s.name for s in defs.sensors),
        "schedules": sorted(s.name for s in defs.schedules),
    }


def test_definitions_match_the_snapshot():
    shape = graph_shape()
    if os.environ.get("REXAI_UPDATE_SNAPSHOTS") or not SNAPSHOT.exists():
        SNAPSHOT.write_text(json.dumps(shape, indent=2, sort_keys=True) + "\n")
    assert shape == json.loads(SNAPSHOT.read_text())
