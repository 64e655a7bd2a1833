"""Where data lives: one root (`REXAI_DATA_ROOT`, default `./data`) laid out as DESIGN.md fixes."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from rexai_assets.atomic import write_with
from rexai_assets.settings import REPO_ROOT

SHIPPED_RAW_DIR = REPO_ROOT / "data" / "raw"
WAREHOUSE_FILE = "rexai.duckdb"  # the stem must differ from every schema name in it


def default_data_root() -> Path:
    return Path(os.environ.get("REXAI_DATA_ROOT", "./data")).resolve()


@dataclass(frozen=True)
class DataLayout:
    """The contract paths under one data root."""

    root: Path

    @property
    def raw(self) -> Path:
        return self.root / "raw"

    @property
    def inbox(self) -> Path:
        return self.root / "inbox"

    @property
    def experiments_inbox(self) -> Path:
        return self.inbox / "experiments"

    @property
    def feedback_inbox(self) -> Path:
        return self.inbox / "feedback"

    @property
    def quarantine(self) -> Path:
        return self.root / "quarantine"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def ingestion_errors(self) -> Path:
        return self.logs / "ingestion.errors.jsonl"

    @property
    def inference_log(self) -> Path:
        """One small parquet file per serving call, until the ingestion runs compact them into the warehouse."""
        return self.logs / "inference"

    @property
    def measured_snapshot(self) -> Path:
        """Measurement sums per recipe, label source and verdict, rewritten by every ingestion (serving reads it)."""
        return self.root / "observations" / "measured_recipes.parquet"

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse" / WAREHOUSE_FILE

    @property
    def mlflow(self) -> Path:
        return self.root / "mlflow"

    @property
    def tracking_uri(self) -> str:
        """`MLFLOW_TRACKING_URI`, else the embedded sqlite store beside the data (never MLflow's `file://` store).

        The one rule for the MLflow location: the resources and the Dagster-free serving path both use it."""
        return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{(self.mlflow / 'mlflow.db').resolve()}"

    @property
    def models(self) -> Path:
        return self.root / "models"

    @property
    def bundles(self) -> Path:
        return self.root / "bundles"

    @property
    def benchmarks(self) -> Path:
        return self.root / "benchmarks"

    @property
    def gold(self) -> Path:
        return self.root / "gold"

    @property
    def docs(self) -> Path:
        return self.root / "docs"

    @property
    def secrets(self) -> Path:
        return self.root / "secrets"

    def ensure(self) -> "DataLayout":
        """Create the folders and seed a fresh root with the shipped raw tables."""
        seed_raw(self.raw)
        for folder in (self.experiments_inbox, self.feedback_inbox, self.quarantine, self.logs,
                       self.warehouse.parent, self.mlflow, self.models, self.bundles,
                       self.benchmarks, self.gold):
            folder.mkdir(parents=True, exist_ok=True)
        return self


def seed_raw(target: Path) -> None:
    """Copy every shipped raw file that the target root lacks; never overwrite an edited copy."""
    if target.resolve() == SHIPPED_RAW_DIR.resolve():
        return
    for source in SHIPPED_RAW_DIR.rglob("*"):
        if source.is_file():
            destination = target / source.relative_to(SHIPPED_RAW_DIR)
            if not destination.exists():
                # A private temporary name per writer: processes seeding the same fresh root at once
                # each publish a complete copy, and the last rename wins with identical bytes.
                write_with(destination, lambda tmp, source=source: shutil.copyfile(source, tmp))


def layout(root: str | Path | None = None) -> DataLayout:
    return DataLayout(Path(root).resolve() if root else default_data_root())
