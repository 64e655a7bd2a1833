"""Shared fixtures: every test runs against its own data root, Dagster home and (if it asks) config copy."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

from rexai_assets import settings

REPO_ROOT = Path(__file__).resolve().parents[1]
SHIPPED_RAW = REPO_ROOT / "data" / "raw"


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh REXAI_DATA_ROOT and DAGSTER_HOME per test; the repository's data/ is never touched."""
    base = tmp_path_factory.mktemp("rexai")
    monkeypatch.setenv("REXAI_DATA_ROOT", str(base / "data"))
    monkeypatch.setenv("DAGSTER_HOME", str(base / "dagster_home"))
    monkeypatch.setenv("REXAI_PII_KEY", "test-pii-key")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("REXAI_CONFIG_DIR", raising=False)
    monkeypatch.delenv("REXAI_ENV", raising=False)
    (base / "dagster_home").mkdir()
    settings.clear_cache()
    yield base / "data"
    settings.clear_cache()


@pytest.fixture
def data_root(isolated_environment: Path) -> Path:
    return isolated_environment


@pytest.fixture
def raw_copy(tmp_path: Path) -> Path:
    """A writable copy of the shipped raw tables."""
    target = tmp_path / "raw"
    shutil.copytree(SHIPPED_RAW, target)
    return target


@pytest.fixture
def config_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Path]:
    """`config_override("gold.yaml", {"pool_size": 500})` deep-merges values into a private config copy."""
    directory = tmp_path / "config"
    shutil.copytree(REPO_ROOT / "config", directory)
    monkeypatch.setenv("REXAI_CONFIG_DIR", str(directory))
    settings.clear_cache()

    def override(name: str, values: dict[str, Any]) -> Path:
        path = directory / name
        current = yaml.safe_load(path.read_text()) if path.exists() else {}
        path.write_text(yaml.safe_dump(settings.deep_merge(current or {}, values), sort_keys=False))
        settings.clear_cache()
        return path

    return override


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The end-to-end tests first, those allowed the longest time first of all: `make test` hands tests to
    both cores two at a time (pytest-xdist), and a ten-minute test handed out last would run alone while
    the other core idles."""
    def allowed_seconds(item: pytest.Item) -> float:
        marker = item.get_closest_marker("timeout")
        return float(marker.args[0]) if marker and marker.args else 0.0

    def end_to_end(item: pytest.Item) -> bool:
        return bool(item.get_closest_marker("slow") or item.get_closest_marker("integration"))

    items.sort(key=lambda item: (not end_to_end(item), -allowed_seconds(item)))
