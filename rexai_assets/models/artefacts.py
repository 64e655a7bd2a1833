"""A trained ensemble on disk: one folder of artefacts, hashed, never trained on load.

`ensemble.json` (spec: features, targets, weights, intervals), one joblib per scikit-learn part, one
`.pt` per torch member, and `metadata.json` (metrics and lineage; not part of the model hash).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from rexai_assets.hashing import canonical_json, jsonable, sha256_bytes, sha256_file

if TYPE_CHECKING:
    from rexai_assets.models.ensemble import TrainedEnsemble

FORMAT_VERSION = 2
ENSEMBLE_FILE = "ensemble.json"
METADATA_FILE = "metadata.json"
SKLEARN_PARTS = ("forest", "boosting", "correction")
TORCH_PARTS = ("tab_transformer", "autoencoder")


def artefact_hash(directory: Path) -> str:
    """sha256 over the serialised artefacts (everything but metadata.json), in sorted file order."""
    lines = [f"{p.name}\0{sha256_file(p)}" for p in sorted(Path(directory).iterdir())
             if p.is_file() and p.name != METADATA_FILE and not p.name.startswith(".")]
    return sha256_bytes("\n".join(lines).encode())


def spec(ensemble: "TrainedEnsemble") -> dict:
    return {
        "format_version": FORMAT_VERSION,
        "feature_names": list(ensemble.feature_names),
        "target_names": list(ensemble.target_names),
        "feature_order_hash": ensemble.feature_order_hash,
        "weights": ensemble.weights,
        "intervals": {t: c.to_dict() for t, c in ensemble.intervals.items()},
        "novelty_reference": ensemble.novelty_reference,
        "members": sorted(ensemble.members) + [p for p in ("autoencoder", "correction") if getattr(ensemble, p) is not None],
    }


def save_ensemble(ensemble: "TrainedEnsemble", directory: str | Path) -> str:
    """Write the artefacts into `directory` (created) and return the model hash."""
    from rexai_assets.atomic import write_bytes_atomic, write_text_atomic, write_with
    from rexai_assets.models.forest import save_sklearn_state

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    write_text_atomic(directory / ENSEMBLE_FILE, canonical_json(spec(ensemble)) + "\n")
    for name in SKLEARN_PARTS:
        part = getattr(ensemble, name)
        if part is not None:
            write_with(directory / f"{name}.joblib", lambda p, part=part: save_sklearn_state(part.state(), p))
    torch_parts = [(n, getattr(ensemble, n)) for n in TORCH_PARTS if getattr(ensemble, n) is not None]
    if torch_parts:
        from rexai_assets.models.torch_models import state_bytes

        for name, part in torch_parts:
            write_bytes_atomic(directory / f"{name}.pt", state_bytes(part.payload()))
    model_hash = artefact_hash(directory)
    metadata = dict(ensemble.metadata, model_hash=model_hash)
    write_text_atomic(directory / METADATA_FILE, json.dumps(jsonable(metadata), indent=2, sort_keys=True) + "\n")
    return model_hash


def _sklearn_parts(directory: Path) -> dict:
    from rexai_assets.models.boosting import BoostingMember
    from rexai_assets.models.correction import MeasuredCorrection
    from rexai_assets.models.forest import ForestMember, load_sklearn_state

    kinds = {"forest": ForestMember, "boosting": BoostingMember, "correction": MeasuredCorrection}
    return {name: kinds[name].from_state(load_sklearn_state(directory / f"{name}.joblib"))
            if (directory / f"{name}.joblib").exists() else None for name in SKLEARN_PARTS}


def _torch_parts(directory: Path) -> dict:
    present = [n for n in TORCH_PARTS if (directory / f"{n}.pt").exists()]
    if not present:
        return dict.fromkeys(TORCH_PARTS)
    from rexai_assets.models.torch_models import AutoencoderMember, TabTransformerMember, state_from_bytes

    kinds = {"tab_transformer": TabTransformerMember, "autoencoder": AutoencoderMember}
    return {n: kinds[n].from_payload(state_from_bytes((directory / f"{n}.pt").read_bytes())) if n in present else None
            for n in TORCH_PARTS}


def load_ensemble(directory: str | Path) -> "TrainedEnsemble":
    """Rebuild a saved ensemble; never trains."""
    from rexai_assets.models.conformal import TargetInterval
    from rexai_assets.models.ensemble import TrainedEnsemble

    directory = Path(directory)
    spec_path = directory / ENSEMBLE_FILE
    if not spec_path.exists():
        raise FileNotFoundError(f"{spec_path}: not a saved rexai ensemble (no {ENSEMBLE_FILE})")
    data = json.loads(spec_path.read_text())
    if data.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{spec_path}: format_version {data.get('format_version')!r}, expected {FORMAT_VERSION}")
    metadata_path = directory / METADATA_FILE
    return TrainedEnsemble(
        feature_names=tuple(data["feature_names"]), target_names=tuple(data["target_names"]),
        feature_order_hash=data["feature_order_hash"], weights=data["weights"],
        intervals={t: TargetInterval.from_dict(c) for t, c in data["intervals"].items()},
        novelty_reference=data.get("novelty_reference", {}), **_sklearn_parts(directory), **_torch_parts(directory),
        metadata=json.loads(metadata_path.read_text()) if metadata_path.exists() else {},
        _model_hash=artefact_hash(directory))
