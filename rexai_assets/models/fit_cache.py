"""Member fits reused when nothing that determines them has changed, and members skipped that cannot be chosen.

The forest, boosting and TabTransformer members learn the simulator prior from simulated train rows only
(`ensemble.training_inputs`); lab results reach the served model through the measured correction. So a
retrain after new measurements would refit the same members bit for bit (fixed seeds and threads): 30 s of
the loop's 100 on this machine. A fit is stored under a key of everything it depends on — the member, its
config section, seed and threads, the training arrays, the source of the modules that fit it and the
library versions — and loaded instead of refitted while the key matches. Any other change (a new
simulated row, a config value, an upgrade, an edit of the fitting code) is a new key, hence a real fit.
The `KEEP_PER_MEMBER` most recently used fits of each member are kept, older ones of that member deleted.

A member the last selection weighted 0 on every target is not trained for the next retrains while the
simulated data it competes on (candidate pool and simulator) and the models settings are the same: the
selection compares the members on simulated rows only, so it would weigh it 0 again. After
`recheck_after` skips it is trained and compared again (config/models.yaml `ensemble.recheck_unselected_after`).
The record is `member_selection.json` beside the fits.
"""

from __future__ import annotations

import importlib.metadata
import inspect
import pickle
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from rexai_assets.atomic import write_bytes_atomic, write_text_atomic
from rexai_assets.hashing import canonical_json, sha256_bytes, sha256_json

T = TypeVar("T")
KEEP_PER_MEMBER = 2
SELECTION_FILE = "member_selection.json"
LIBRARIES = ("numpy", "scikit-learn", "torch")


def _source_sha(module_names: Sequence[str]) -> str:
    import importlib

    return sha256_bytes(b"".join(inspect.getsource(importlib.import_module(name)).encode()
                                 for name in sorted(module_names)))


def _library_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def fit_key(member: str, settings: Mapping[str, Any], arrays: Sequence[np.ndarray], modules: Sequence[str]) -> str:
    """sha256 of everything a member's fit depends on (see the module docstring)."""
    import hashlib

    digest = hashlib.sha256()
    digest.update(canonical_json({"member": member, "settings": dict(settings), "code": _source_sha(modules),
                                  "libraries": _library_versions()}).encode())
    for array in arrays:
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def cached_fit(directory: Path | None, member: str, key: str, fit: Callable[[], T]) -> tuple[T, bool]:
    """(the fit stored under `key`, True), or (`fit()` stored under `key`, False). No directory: always fit."""
    if directory is None:
        return fit(), False
    path = Path(directory) / f"{member}-{key}.pkl"
    if path.exists():
        with path.open("rb") as handle:
            fitted = pickle.load(handle)
        path.touch()  # most recently used: kept by _prune
        return fitted, True
    fitted = fit()
    write_bytes_atomic(path, pickle.dumps(fitted, protocol=pickle.HIGHEST_PROTOCOL))
    _prune(Path(directory), member)
    return fitted, False


def _prune(directory: Path, member: str) -> None:
    stored = sorted(directory.glob(f"{member}-*.pkl"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in stored[KEEP_PER_MEMBER:]:
        old.unlink(missing_ok=True)


def selection_basis(gold_lineage: Mapping[str, Any], models_settings: Mapping[str, Any]) -> str:
    """What a member selection was decided on: the simulated pool, the simulator and the models settings."""
    return sha256_json({"pool": gold_lineage.get("candidate_pool"), "simulator": gold_lineage.get("simulator"),
                        "models": dict(models_settings)})


def _read_selection(directory: Path) -> dict[str, dict[str, Any]]:
    import json

    path = Path(directory) / SELECTION_FILE
    return json.loads(path.read_text()) if path.exists() else {}


def _write_selection(directory: Path, record: Mapping[str, Any]) -> None:
    write_text_atomic(Path(directory) / SELECTION_FILE, canonical_json(dict(record)))


def record_selection(directory: Path, weights: Mapping[str, Mapping[str, float]], trained: Sequence[str],
                     basis: str) -> None:
    """After a selection: each trained member's total weight over the targets; skipped members keep their entry."""
    record = _read_selection(directory)
    for member in trained:
        record[member] = {"weight": float(sum(w.get(member, 0.0) for w in weights.values())), "basis": basis,
                          "skipped": 0}
    _write_selection(directory, record)


def unselected_skip(directory: Path, member: str, basis: str, recheck_after: int) -> str | None:
    """Why `member` need not be trained this time (and the skip is counted), or None: train it."""
    record = _read_selection(directory)
    entry = record.get(member)
    if (recheck_after <= 0 or entry is None or entry["weight"] > 0 or entry["basis"] != basis
            or entry["skipped"] >= recheck_after):
        return None
    entry["skipped"] += 1
    _write_selection(directory, record)
    return (f"not trained: the last selection weighted it 0 on every target, on the same simulated rows and "
            f"settings (skip {entry['skipped']} of {recheck_after} before it is compared again)")
