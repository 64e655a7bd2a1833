"""The code location loads, stays light to import, and describes every asset."""

from __future__ import annotations

import subprocess
import sys

import dagster as dg

from rexai_assets.definitions import build_definitions

HEAVY_MODULES = ("mlflow", "torch", "great_expectations", "sklearn", "pandera")


def test_definitions_are_loadable():
    dg.Definitions.validate_loadable(build_definitions())


def test_importing_definitions_does_no_heavy_imports(tmp_path):
    # A fresh interpreter, with a data root that does not exist: importing must not create it.
    probe = (
        "import sys, rexai_assets.definitions\n"
        f"print(','.join(m for m in {HEAVY_MODULES!r} if m in sys.modules))\n"
    )
    root = tmp_path / "never_created"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                            env={"REXAI_DATA_ROOT": str(root), "PATH": "/usr/bin:/bin"})
    assert result.stdout.strip() == ""
    assert not root.exists()


def test_every_asset_has_a_description_kinds_and_group():
    graph = build_definitions().resolve_asset_graph()
    for key in graph.materializable_asset_keys:
        node = graph.get(key)
        spec = node.to_asset_spec() if hasattr(node, "to_asset_spec") else None
        assert node.description and "\n" not in node.description.strip(), key
        assert node.group_name != "default", key
        if spec is not None:
            assert spec.kinds, key


def test_resources_per_environment(monkeypatch):
    from rexai_assets.resources import build_resources

    local = build_resources("local")
    assert local["mlflow"].tracking_uri.startswith("sqlite:///")
    assert local["warehouse"].database.endswith("warehouse/rexai.duckdb")
    prod = build_resources("prod")
    assert set(prod) == set(local)
    try:
        build_resources("staging")
    except ValueError as exc:
        assert "REXAI_ENV='staging'" in str(exc)
    else:
        raise AssertionError("unknown environment accepted")
