"""Dynamic partition sets kept in step with files (inbox feedback files, target presets)."""

from __future__ import annotations

from typing import Iterable

import dagster as dg


def unknown_partition_keys(instance: dg.DagsterInstance, partitions: dg.DynamicPartitionsDefinition,
                           keys: Iterable[str]) -> list[str]:
    """`keys` (deduplicated, in order) that the instance does not hold yet in `partitions`."""
    known = set(instance.get_dynamic_partitions(partitions.name))
    return [key for key in dict.fromkeys(str(k) for k in keys) if key not in known]
