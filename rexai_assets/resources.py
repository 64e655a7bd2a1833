"""Resources: every location the code touches, configured per environment (REXAI_ENV)."""

from __future__ import annotations

import os
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, Iterator

import dagster as dg

from rexai_assets.paths import DataLayout, layout
from rexai_assets.warehouse import WarehouseClient, warehouse_path


class RexaiStorage(dg.ConfigurableResource):
    """The data root and its contract layout (raw, inbox, quarantine, logs, models, bundles…)."""

    data_root: str

    @property
    def layout(self) -> DataLayout:
        return layout(self.data_root).ensure()


# Op tag of every step that opens the warehouse. DuckDB lets one process write a file and no other
# process open it meanwhile, so a deployment that runs steps in parallel (the k8s executor) limits
# this key to one step at a time; on one machine `WarehouseClient.connect` waits for the lock instead.
WAREHOUSE_TAG = "rexai/warehouse"
WAREHOUSE_WRITE = {WAREHOUSE_TAG: "write"}
WAREHOUSE_READ = {WAREHOUSE_TAG: "read"}


class Warehouse(dg.ConfigurableResource):
    """The embedded DuckDB warehouse: a thin wrapper returning the Dagster-free `WarehouseClient`."""

    database: str
    lock_timeout_s: float = 120.0

    def client(self) -> WarehouseClient:
        return WarehouseClient(Path(self.database), self.lock_timeout_s)

    def connect(self, read_only: bool = False) -> AbstractContextManager[Any]:
        """A connection that waits for the file lock (`WarehouseClient.connect`)."""
        return self.client().connect(read_only)


class MlflowTracking(dg.ConfigurableResource):
    """MLflow tracking + registry; each training opens and closes its own run."""

    tracking_uri: str
    registry_uri: str = ""
    experiment_name: str = "rexai"
    registered_model_name: str = "rexai"

    def configure(self) -> Any:
        import mlflow

        mlflow.set_tracking_uri(self.tracking_uri)
        mlflow.set_registry_uri(self.registry_uri or self.tracking_uri)
        return mlflow

    def client(self) -> Any:
        from mlflow.tracking import MlflowClient

        self.configure()
        return MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.registry_uri or self.tracking_uri)

    def artifact_root(self) -> str | None:
        """Artefacts beside an embedded sqlite store (`<dir of mlflow.db>/artifacts`); a server decides its own.

        Without this, MLflow would write to `./mlruns` under whatever the current directory is."""
        prefix = "sqlite:///"
        if not self.tracking_uri.startswith(prefix):
            return None
        return (Path(self.tracking_uri[len(prefix):]).parent / "artifacts").resolve().as_uri()

    def ensure_experiment(self) -> str:
        """The experiment's id, created with its artefact root if new (concurrent creators agree)."""
        from mlflow.exceptions import MlflowException

        client = self.client()
        experiment = client.get_experiment_by_name(self.experiment_name)
        if experiment is not None:
            return experiment.experiment_id
        try:
            return client.create_experiment(self.experiment_name, artifact_location=self.artifact_root())
        except MlflowException:
            return client.get_experiment_by_name(self.experiment_name).experiment_id

    @contextmanager
    def start_run(self, run_name: str, tags: dict[str, str] | None = None) -> Iterator[Any]:
        mlflow = self.configure()
        mlflow.set_experiment(experiment_id=self.ensure_experiment())
        with mlflow.start_run(run_name=run_name, tags=tags or {}) as run:
            yield run


def build_resources(env: str | None = None) -> dict[str, Any]:
    """Resources for `REXAI_ENV` = local (default) | ci | prod. Reads environment variables only."""
    env = (env or os.environ.get("REXAI_ENV", "local")).lower()
    if env == "prod":
        # Locations come from the deployment's environment; nothing local is assumed.
        return {
            "io_manager": dg.FilesystemIOManager(base_dir=dg.EnvVar("REXAI_IO_BASE")),
            "storage": RexaiStorage(data_root=dg.EnvVar("REXAI_DATA_ROOT")),
            "warehouse": Warehouse(database=dg.EnvVar("REXAI_WAREHOUSE_PATH")),
            # The registry defaults to the tracking server unless MLFLOW_REGISTRY_URI names another.
            "mlflow": MlflowTracking(tracking_uri=dg.EnvVar("MLFLOW_TRACKING_URI"),
                                     registry_uri=os.environ.get("MLFLOW_REGISTRY_URI", "")),
        }
    if env not in ("local", "ci"):
        raise ValueError(f"REXAI_ENV={env!r}: expected local, ci or prod")
    data = layout()
    return {
        # Step outputs go through storage (never memory), so any executor can run any step.
        "io_manager": dg.FilesystemIOManager(base_dir=str(data.root / "io")),
        "storage": RexaiStorage(data_root=str(data.root)),
        "warehouse": Warehouse(database=str(warehouse_path()),
                               lock_timeout_s=300.0 if env == "ci" else 120.0),
        "mlflow": MlflowTracking(tracking_uri=data.tracking_uri),
    }
