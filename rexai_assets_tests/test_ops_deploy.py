"""deploy/ is valid Dagster configuration, and the Kubernetes code location builds from the definitions."""

from __future__ import annotations

import subprocess
from pathlib import Path

import dagster as dg
import pytest
import yaml

from rexai_assets.settings import REPO_ROOT

DEPLOY = REPO_ROOT / "deploy"
PG_ENV = {"DAGSTER_PG_USERNAME": "dagster", "DAGSTER_PG_PASSWORD": "secret", "DAGSTER_PG_HOST": "db.example",
          "DAGSTER_PG_DB": "dagster", "DAGSTER_PG_PORT": "5432", "REXAI_IMAGE": "registry.example/rexai:1"}


def _process(config_class_or_type, config: dict) -> dict:
    from dagster._config import process_config

    config_type = config_class_or_type.config_type() if hasattr(config_class_or_type, "config_type") \
        else config_class_or_type
    result = process_config(config_type, config)
    assert result.success, [e.message for e in result.errors]
    return result.value


@pytest.mark.parametrize("relative", ["dagster.yaml", "k8s/dagster-k8s.yaml"])
def test_instance_files_validate_and_use_postgres_with_psycopg2(relative: str, monkeypatch: pytest.MonkeyPatch,
                                                                tmp_path: Path):
    from dagster._core.instance.config import dagster_instance_config
    from dagster_postgres import DagsterPostgresStorage

    for key, value in PG_ENV.items():
        monkeypatch.setenv(key, value)
    (tmp_path / "dagster.yaml").write_text((DEPLOY / relative).read_text())
    config, _ = dagster_instance_config(str(tmp_path))
    postgres = config["storage"]["postgres"]
    assert postgres["postgres_db"]["scheme"] == "postgresql+psycopg2"
    _process(DagsterPostgresStorage, postgres)
    # Every value that locates the database comes from the environment, never from the file.
    raw = yaml.safe_load((DEPLOY / relative).read_text())["storage"]["postgres"]["postgres_db"]
    assert all(isinstance(raw[k], dict) and "env" in raw[k]
               for k in ("username", "password", "hostname", "db_name", "port"))


def test_k8s_run_launcher_config_validates(monkeypatch: pytest.MonkeyPatch):
    from dagster_k8s import K8sRunLauncher

    for key, value in PG_ENV.items():
        monkeypatch.setenv(key, value)
    launcher = yaml.safe_load((DEPLOY / "k8s" / "dagster-k8s.yaml").read_text())["run_launcher"]
    assert (launcher["module"], launcher["class"]) == ("dagster_k8s", "K8sRunLauncher")
    value = _process(K8sRunLauncher, launcher["config"])
    assert value["job_image"] == PG_ENV["REXAI_IMAGE"]
    # Volumes are free-form for Dagster; the launcher turns them into Kubernetes models at launch.
    import kubernetes
    from dagster_k8s.models import k8s_model_from_dict

    volume = k8s_model_from_dict(kubernetes.client.V1Volume, value["volumes"][0])
    mount = k8s_model_from_dict(kubernetes.client.V1VolumeMount, value["volume_mounts"][0])
    assert volume.persistent_volume_claim.claim_name and mount.mount_path == "/data"


def test_k8s_executor_sizes_every_asset_op(data_root: Path):
    from dagster_k8s import k8s_job_executor

    from rexai_assets.definitions import build_definitions
    from rexai_assets.ops.k8s import GROUP_PODS, executor_config, k8s_definitions, k8s_op_tags

    base = build_definitions()
    config = executor_config(base)
    _process(k8s_job_executor.config_schema.config_type, config)
    # The shipped excerpt is valid executor config too.
    excerpt = yaml.safe_load((DEPLOY / "k8s" / "executor.yaml").read_text())["execution"]["config"]
    _process(k8s_job_executor.config_schema.config_type, excerpt)

    graph = base.resolve_asset_graph()
    ops = {a.node_def.name: a for a in base.assets if isinstance(a, dg.AssetsDefinition) and a.is_executable}
    assert set(config["per_step_k8s_config"]) == set(ops)
    for name, assets_def in ops.items():
        group = graph.get(next(iter(assets_def.keys))).group_name
        requests = config["per_step_k8s_config"][name]["container_config"]["resources"]["requests"]
        if group in GROUP_PODS:
            assert requests["cpu"] == GROUP_PODS[group][0], name
    tags = k8s_op_tags("2", "4Gi", "8Gi")["dagster-k8s/config"]
    assert tags["container_config"]["resources"] == {"requests": {"cpu": "2", "memory": "4Gi"},
                                                     "limits": {"memory": "8Gi"}}

    defs = k8s_definitions("local")
    dg.Definitions.validate_loadable(defs)
    job = defs.resolve_job_def("raw_job")
    assert job.executor_def.name == "rexai_k8s"


def test_every_step_that_opens_the_warehouse_is_serialised_on_k8s(data_root: Path):
    """DuckDB: while one process writes the file no other may open it. Every op that needs the
    `warehouse` resource carries the `rexai/warehouse` tag (`write` when it materialises a DuckDB
    table), and the k8s executor runs steps with that tag one at a time."""
    from rexai_assets.definitions import build_definitions
    from rexai_assets.ops.k8s import executor_config
    from rexai_assets.resources import WAREHOUSE_TAG

    base = build_definitions()
    nodes = {}
    for job in base.resolve_all_job_defs():
        for node in job.graph.iterate_op_defs():
            nodes[node.name] = node
    users = {name: node for name, node in nodes.items() if "warehouse" in node.required_resource_keys}
    assert {"experiment_runs", "crew_feedback", "gold_dataset", "promotion_proposal", "model_bundle",
            "apply_review"} <= set(users)
    writers = {a.node_def.name for a in base.assets if isinstance(a, dg.AssetsDefinition) and a.is_executable
               and any("duckdb" in kinds for kinds in (spec.kinds for spec in a.specs))}
    assert {"experiment_runs", "gold_dataset", "promotion_proposal"} <= writers
    for name, node in users.items():
        expected = {"write"} if name in writers or name == "apply_review" else {"read", "write"}
        assert node.tags.get(WAREHOUSE_TAG) in expected, f"{name} opens the warehouse but is tagged {node.tags}"
    assert {"key": WAREHOUSE_TAG, "limit": 1} in executor_config(base)["tag_concurrency_limits"]
    excerpt = yaml.safe_load((DEPLOY / "k8s" / "executor.yaml").read_text())["execution"]["config"]
    assert {"key": WAREHOUSE_TAG, "limit": 1} in excerpt["tag_concurrency_limits"]


def test_mlflow_server_script_is_valid_bash_and_uses_postgres_and_object_storage():
    script = DEPLOY / "mlflow" / "run_mlflow_server.sh"
    subprocess.run(["bash", "-n", str(script)], check=True)
    text = script.read_text()
    assert "--backend-store-uri \"postgresql+psycopg2://" in text
    assert "--artifacts-destination \"s3://" in text
    # Without its required settings the script stops with a reason instead of starting a broken server.
    result = subprocess.run(["bash", str(script)], capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"})
    assert result.returncode != 0 and "MLFLOW_PG_HOST" in result.stderr
