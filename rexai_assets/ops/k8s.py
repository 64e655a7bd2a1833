"""Kubernetes execution: every step in its own pod, with CPU / memory requests per asset group.

`k8s_definitions()` is `build_definitions()` with the `k8s_job_executor` and one `per_step_k8s_config`
entry per asset op, sized by the asset's group (training needs more than reading a CSV). A layer may
also pin one asset's pod in code with `op_tags=k8s_op_tags(...)`; the executor merges both, the
per-step entry winning. `dagster_k8s` is imported only when the executor is built.
"""

from __future__ import annotations

import os
from typing import Any

import dagster as dg

from rexai_assets.resources import WAREHOUSE_TAG

# (cpu request, memory request, memory limit) per asset group; steps of other groups and check
# steps get DEFAULT_POD.
GROUP_PODS: dict[str, tuple[str, str, str]] = {
    "raw": ("250m", "512Mi", "1Gi"),
    "observations": ("250m", "512Mi", "1Gi"),
    "gold": ("1", "2Gi", "4Gi"),
    "models": ("2", "4Gi", "8Gi"),
    "evaluation": ("1", "2Gi", "4Gi"),
    "serving": ("1", "2Gi", "4Gi"),
}
DEFAULT_POD = ("250m", "512Mi", "1Gi")


def pod_config(cpu: str, memory: str, memory_limit: str | None = None) -> dict[str, Any]:
    """The `dagster-k8s/config` value that sizes one step's container."""
    resources: dict[str, Any] = {"requests": {"cpu": cpu, "memory": memory}}
    if memory_limit:
        # No CPU limit: throttling a training step only makes it slower; memory is the hard bound.
        resources["limits"] = {"memory": memory_limit}
    return {"container_config": {"resources": resources}}


def k8s_op_tags(cpu: str, memory: str, memory_limit: str | None = None) -> dict[str, Any]:
    """`@dg.asset(op_tags=k8s_op_tags("2", "4Gi", "8Gi"))`: pin one asset's pod size in code."""
    return {"dagster-k8s/config": pod_config(cpu, memory, memory_limit)}


def per_step_pods(defs: dg.Definitions) -> dict[str, dict[str, Any]]:
    """`per_step_k8s_config` for the k8s executor: op name -> pod config, by the asset's group."""
    per_op: dict[str, dict[str, Any]] = {}
    for assets_def in defs.assets or []:
        if not isinstance(assets_def, dg.AssetsDefinition) or not assets_def.is_executable:
            continue
        groups = set(assets_def.group_names_by_key.values())
        # A multi-asset op gets the largest pod among its groups.
        sizes = [GROUP_PODS.get(g, DEFAULT_POD) for g in groups] or [DEFAULT_POD]
        cpu, memory, limit = max(sizes, key=lambda s: _mebibytes(s[1]))
        per_op[assets_def.node_def.name] = pod_config(cpu, memory, limit)
    return per_op


def _mebibytes(quantity: str) -> float:
    units = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024, "Ti": 1024 * 1024}
    for suffix, factor in units.items():
        if quantity.endswith(suffix):
            return float(quantity[: -len(suffix)]) * factor
    return float(quantity) / (1024 * 1024)


def executor_config(defs: dg.Definitions) -> dict[str, Any]:
    """The k8s_job_executor config: namespace and limits from the environment, pods per step."""
    return {
        "job_namespace": os.environ.get("REXAI_K8S_NAMESPACE", "rexai"),
        "max_concurrent": int(os.environ.get("REXAI_K8S_MAX_CONCURRENT", "4")),
        "env_config_maps": ["rexai-env"],
        "env_secrets": ["rexai-secrets"],
        # Steps that open the DuckDB warehouse (op tag rexai/warehouse, read or write) run one at a time:
        # while one process writes the file no other may open it, and file locks on shared volumes
        # are not to be trusted.
        "tag_concurrency_limits": [{"key": WAREHOUSE_TAG, "limit": 1}],
        "step_k8s_config": pod_config(*DEFAULT_POD),
        "per_step_k8s_config": per_step_pods(defs),
    }


def k8s_definitions(env: str | None = "prod") -> dg.Definitions:
    """The code location for a Kubernetes deployment: same graph, k8s executor, prod resources."""
    from dagster_k8s import k8s_job_executor

    from rexai_assets.definitions import build_definitions

    base = build_definitions(env)
    return dg.Definitions(
        assets=base.assets, asset_checks=base.asset_checks, jobs=base.jobs, sensors=base.sensors,
        schedules=base.schedules, resources=base.resources,
        executor=k8s_job_executor.configured(executor_config(base), name="rexai_k8s"))


def main() -> None:
    """Print the executor run config for the current definitions (deploy/k8s/executor.yaml is an excerpt)."""
    import yaml

    from rexai_assets.definitions import build_definitions

    print(yaml.safe_dump({"execution": {"config": executor_config(build_definitions())}}, sort_keys=False))


if __name__ == "__main__":
    main()
