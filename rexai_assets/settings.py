"""Typed access to `config/*.yaml`, the single source of truth for what a user tunes.

Each file is read once per process (per config directory) through a pydantic model, and its
sha256 travels with whatever it produced. `REXAI_CONFIG_DIR` points at another directory of
the same files (tests use it to shrink sizes or switch policies).
"""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG_DIR = REPO_ROOT / "config"

ModelT = TypeVar("ModelT", bound=BaseModel)


class ConfigError(ValueError):
    """A config file is missing, unreadable or does not match its typed model."""


class StrictModel(BaseModel):
    """Base for config models: unknown keys are errors, so a typo never silently becomes a default."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ResidualModelSettings(StrictModel):
    """A boosted residual model per target, cross-fitted: the measured correction (models.yaml `correction`)
    and the habitat adapters (habitats.yaml `adapters.residual`) share these hyperparameters."""

    folds: int = 5
    max_iter: int = 150
    learning_rate: float = 0.05
    max_leaf_nodes: int = 15
    min_samples_leaf: int = 10
    l2_regularization: float = 1.0


def config_dir() -> Path:
    return Path(os.environ.get("REXAI_CONFIG_DIR", DEFAULT_CONFIG_DIR)).resolve()


@lru_cache(maxsize=None)
def _read(directory: Path, name: str) -> tuple[bytes, dict]:
    path = directory / name
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file ({exc.strerror or exc})") from None
    try:
        data = yaml.safe_load(raw) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping")
    return raw, data


@lru_cache(maxsize=None)
def _load(directory: Path, name: str, model: type[ModelT]) -> ModelT:
    _, data = _read(directory, name)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise ConfigError(f"{directory / name}: {where}: {first['msg']}") from None


def load(name: str, model: type[ModelT]) -> ModelT:
    """The typed content of `config/<name>`; cached, so each file is parsed once."""
    return _load(config_dir(), name, model)


def config_sha256(name: str) -> str:
    """sha256 of the bytes of `config/<name>` exactly as read."""
    raw, _ = _read(config_dir(), name)
    return hashlib.sha256(raw).hexdigest()


def combined_config_hash(names: list[str] | tuple[str, ...]) -> str:
    """One hash over several config files (name + content), order-independent."""
    digest = hashlib.sha256()
    for name in sorted(names):
        digest.update(name.encode())
        digest.update(config_sha256(name).encode())
    return digest.hexdigest()


def all_config_hashes() -> dict[str, str]:
    return {p.name: config_sha256(p.name) for p in sorted(config_dir().glob("*.yaml"))}


def deep_merge(base: dict, update: dict, existing_only: bool = False) -> dict:
    """Merge `update` into `base` in place, recursing into nested mappings; returns `base`.

    With `existing_only`, keys `base` lacks are skipped (shrinking a config never adds unknown keys)."""
    for key, value in update.items():
        if existing_only and key not in base:
            continue
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            deep_merge(base[key], value, existing_only)
        else:
            base[key] = value
    return base


def clear_cache() -> None:
    """Forget what was read (tests that rewrite config files in place call this)."""
    _read.cache_clear()
    _load.cache_clear()
