"""Predictions of a candidate pool kept per (model hash, feature matrix), so a repeated pool is not re-scored.

`rexai recommend` scores the same seeded, inventory-feasible pool on every call until the inventory, the
serving config or the champion changes; loading the ensemble for it imports scikit-learn and torch
(about 3 s of a 5 s budget). The key is the model's artefact hash and the sha256 of the exact float64
matrix scored, so any change to the model, the inventory, the sampler or the feature contract is a
different key: a cached entry is only ever the output the same model gave for the same rows. Only pools
of at least `MIN_ROWS` rows are kept (a few recipes score in milliseconds), and only the newest
`MAX_ENTRIES` files (the recommendations of every preset share one pool).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MIN_ROWS = 1000
MAX_ENTRIES = 16
FIELDS = ("value", "lo", "hi")
NOVELTY = "novelty"


@dataclass(frozen=True)
class ScoredPool:
    predictions: dict[str, dict[str, np.ndarray]]
    novelty: np.ndarray | None


def pool_key(model_hash: str, X: np.ndarray) -> str:
    """sha256 over the model hash, the matrix shape and its float64 bytes."""
    X = np.ascontiguousarray(X, dtype=np.float64)
    digest = hashlib.sha256(f"{model_hash}\0{X.shape}\0".encode())
    digest.update(X.tobytes())
    return digest.hexdigest()


def prediction_arrays(predictions: dict[str, dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """{target: {"value", "lo", "hi"}} as the flat `<target>.<field>` arrays an entry stores."""
    return {f"{t}.{f}": np.asarray(v[f]) for t, v in predictions.items() for f in FIELDS}


def predictions_from(arrays: dict[str, np.ndarray], targets: tuple[str, ...]) -> dict | None:
    """The predictions of `targets` back from an entry's arrays; None when it lacks any (another shape)."""
    try:
        return {t: {f: arrays[f"{t}.{f}"] for f in FIELDS} for t in targets}
    except KeyError:
        return None


class ScoreCache:
    """npz files under `folder`, one per scored pool, written atomically."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def path(self, key: str) -> Path:
        return self.folder / f"{key[:32]}.npz"

    def get(self, key: str, targets: tuple[str, ...]) -> ScoredPool | None:
        arrays = self.get_arrays(key)
        predictions = None if arrays is None else predictions_from(arrays, targets)
        if predictions is None:
            return None  # absent, damaged or of another shape: re-scored and rewritten, never served
        return ScoredPool(predictions, arrays.get(NOVELTY))

    def put(self, key: str, pool: ScoredPool) -> None:
        arrays = prediction_arrays(pool.predictions)
        if pool.novelty is not None:
            arrays[NOVELTY] = np.asarray(pool.novelty)
        self.put_arrays(key, arrays)

    def get_arrays(self, key: str) -> dict[str, np.ndarray] | None:
        """Every array stored under `key`, or None (absent or damaged)."""
        path = self.path(key)
        if not path.exists():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                return {name: data[name] for name in data.files}
        except (OSError, KeyError, ValueError):
            return None  # a damaged entry is re-scored and rewritten, never served

    def put_arrays(self, key: str, arrays: dict[str, np.ndarray]) -> None:
        from rexai_assets.atomic import write_with

        self.folder.mkdir(parents=True, exist_ok=True)

        def write(tmp: Path) -> None:
            with open(tmp, "wb") as handle:
                np.savez(handle, **arrays)

        try:
            write_with(self.path(key), write)
            self.prune()
        except OSError:
            pass  # a read-only or full disk only loses the speed-up

    def prune(self, keep: int = MAX_ENTRIES) -> None:
        entries = sorted(self.folder.glob("*.npz"), key=lambda p: p.stat().st_mtime_ns, reverse=True)
        for old in entries[keep:]:
            old.unlink(missing_ok=True)
