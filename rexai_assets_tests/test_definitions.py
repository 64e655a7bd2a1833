"""The code location loads, stays light to import, and describes every asset."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import dagster as dg

from rexai_assets.definitions import LAYERS, build_definitions

HEAVY_MODULES = ("mlflow", "torch", "great_expectations", "sklearn", "pandera", "matplotlib")
PACKAGE = Path(__file__).resolve().parents[1] / "rexai_assets"
LAYER_NAMES = ("raw", "observations", "gold", "models", "planning", "evaluation", "habitats", "serving", "loop")


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


def test_every_layer_is_declared_once_in_its_defs_module():
    for layer in LAYER_NAMES:
        body = ast.parse((PACKAGE / layer / "__init__.py").read_text()).body
        assert all(isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) for node in body), layer
        assert isinstance(importlib.import_module(f"rexai_assets.{layer}.defs").defs, dg.Definitions), layer
    assert [m.__name__ for m in LAYERS] == [f"rexai_assets.{layer}.defs" for layer in LAYER_NAMES]
    merged = build_definitions()
    for kind in ("assets", "asset_checks", "jobs", "sensors", "schedules"):
        assert len(list(getattr(merged, kind))) == sum(len(list(getattr(m.defs, kind) or [])) for m in LAYERS), kind


def test_the_code_location_module_holds_one_definitions_object():
    # Dagster's module loader refuses a module with more than one Definitions at its scope.
    import rexai_assets.definitions as location

    found = [name for name, value in vars(location).items() if isinstance(value, dg.Definitions)]
    assert found == ["defs"]


def test_no_package_init_imports_dagster():
    packages = sorted(p.parent.relative_to(PACKAGE.parent).as_posix().replace("/", ".")
                      for p in PACKAGE.rglob("__init__.py"))
    probe = f"import sys\nfor name in {packages!r}: __import__(name)\nprint('dagster' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                            cwd=PACKAGE.parent)
    assert len(packages) >= len(LAYER_NAMES) + 2 and result.stdout.strip() == "False"


# Bottom (0): contract, settings, hashing, paths, recipes, resources...; then the layers left to right.
LAYER_ORDER = ("raw", "observations", "gold", "models", "planning", "evaluation", "habitats", "serving", "loop", "ops",
               "cli")
ENTRY_POINTS = ("definitions",)  # assembles every layer: ranked with ops


def _rank(module: str) -> int | None:
    parts = module.split(".")
    if parts[0] != "rexai_assets" or len(parts) < 2:
        return None
    top = "ops" if parts[1] in ENTRY_POINTS else parts[1]
    return LAYER_ORDER.index(top) + 1 if top in LAYER_ORDER else 0


def test_no_layer_imports_a_layer_above_it():
    upward = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "bench.py":  # benchmark commands drive the whole platform (dagster dev, rexai run)
            continue
        module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        for node in ast.walk(ast.parse(path.read_text())):
            imported = ([node.module] if isinstance(node, ast.ImportFrom) and node.module else
                        [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            upward += [f"{module} -> {name}" for name in imported
                       if (_rank(name) or 0) > (_rank(module) or 0)]
    assert upward == []


def test_one_tracking_uri_rule(monkeypatch, tmp_path):
    from rexai_assets.paths import layout
    from rexai_assets.resources import build_resources
    from rexai_assets.models.scorer import tracking_uri

    monkeypatch.setenv("REXAI_DATA_ROOT", str(tmp_path))
    embedded = f"sqlite:///{(tmp_path / 'mlflow' / 'mlflow.db').resolve()}"
    assert layout().tracking_uri == build_resources("local")["mlflow"].tracking_uri == tracking_uri() == embedded
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow.example:5000")
    assert layout().tracking_uri == build_resources("local")["mlflow"].tracking_uri == tracking_uri() == "http://mlflow.example:5000"


def test_readme_layout_table_matches_the_folders():
    """Every package has a row in the README's layout table, and the row names each of its modules."""
    import re

    readme = (PACKAGE.parent / "README.md").read_text()
    rows = dict(re.findall(r"^\| `rexai_assets/(\w+)/` \| (.*) \|$", readme, flags=re.M))
    missing = []
    for package in sorted(p.parent for p in PACKAGE.glob("*/__init__.py")):
        row = rows.get(package.name)
        if row is None:
            missing.append(f"{package.name}/ (no row)")
            continue
        missing += [f"{package.name}/{m.name}" for m in sorted(package.glob("*.py"))
                    if m.name not in ("__init__.py", "__main__.py", "defs.py") and f"`{m.name}`" not in row]
    assert missing == [] and set(rows) <= {p.parent.name for p in PACKAGE.glob("*/__init__.py")}


def test_no_function_is_over_sixty_lines():
    """Long functions are split into named steps (a newcomer reads the steps, not a page of code)."""
    long = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno >= 60:
                long.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)")
    assert long == []


def test_every_internal_import_names_an_existing_module():
    """A module moved between layers leaves no import of its old path behind (imports inside functions too)."""
    import importlib.util

    missing = []
    for path in list(PACKAGE.rglob("*.py")) + list((PACKAGE.parent / "rexai_assets_tests").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([node.module] if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 else
                     [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            missing += [f"{path.name}: {name}" for name in names
                        if name.startswith("rexai_assets") and importlib.util.find_spec(name) is None]
    assert missing == []
