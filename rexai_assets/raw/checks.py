"""Asset checks of the `raw` group: row count, schema and unique keys of every table of
`specs.TABLE_SPECS`, plus vocabulary and referential integrity.

All are blocking: every downstream layer (features, recipe validation, recommendations) trusts
these tables, so a table that fails one must not feed them.
"""

from typing import Callable

import dagster as dg
import pandas as pd

from rexai_assets.check_results import problems_result
from rexai_assets.raw.specs import TABLE_SPECS, TableSpec


def schema_violations(spec: TableSpec, frame: pd.DataFrame) -> list[str]:
    import pandera.pandas as pa

    from rexai_assets.raw import tables

    try:
        tables.table_schema(spec).validate(frame, lazy=True)
    except pa.errors.SchemaErrors as errors:
        cases = errors.failure_cases
        return [f"{c.column}: {c.check} ({c.failure_case!r})" for c in cases.head(10).itertuples()]
    return []


def duplicate_keys(frame: pd.DataFrame, keys: tuple[str, ...]) -> list[str]:
    if not keys:
        return []
    duplicated = frame[frame.duplicated(list(keys), keep=False)]
    return sorted({" / ".join(map(str, row)) for row in duplicated[list(keys)].itertuples(index=False)})


def unknown_flags(inventory: pd.DataFrame, known: tuple[str, ...]) -> list[str]:
    flags = {f.strip() for value in inventory["flags"] for f in str(value).split(";") if f.strip()}
    return sorted(flags - set(known))


def material_problems(materials: pd.DataFrame, inventory_ids: set[str] | None = None) -> list[str]:
    """Families outside the vocabulary, shares not summing to 1, inventory items with no materials."""
    from rexai_assets.raw import tables

    problems = [f"unknown family {f!r}" for f in
                sorted(set(materials["family"]) - set(tables.ingestion_settings().family_names))]
    totals = materials.groupby("waste_id")["share"].sum()
    problems += [f"{w}: shares sum to {s:.4f}" for w, s in totals.items() if abs(s - 1.0) > 1e-6]
    if inventory_ids is not None:
        problems += [f"{w}: no material rows" for w in sorted(inventory_ids - set(totals.index))]
    return problems


def _generic_checks(spec: TableSpec) -> list[dg.AssetChecksDefinition]:
    name, keys, min_rows = spec.name, spec.keys, spec.min_rows

    @dg.asset_check(asset=name, name="row_count", blocking=True, description=f"{name} has at least {min_rows} row(s).")
    def row_count(frame: pd.DataFrame) -> dg.AssetCheckResult:
        return dg.AssetCheckResult(passed=len(frame) >= min_rows, metadata={"rows": len(frame)})

    @dg.asset_check(asset=name, name="schema", blocking=True, description=f"{name} matches its pandera schema.")
    def schema(frame: pd.DataFrame) -> dg.AssetCheckResult:
        return problems_result(schema_violations(spec, frame), "schema violations")

    checks = [row_count, schema]
    if keys:
        @dg.asset_check(asset=name, name="unique_keys", blocking=True,
                        description=f"{name}: ({', '.join(keys)}) is unique.")
        def unique_keys(frame: pd.DataFrame) -> dg.AssetCheckResult:
            return problems_result(duplicate_keys(frame, keys), "duplicated keys")

        checks.append(unique_keys)
    return checks


@dg.asset_check(asset="waste_inventory", name="flags_in_vocabulary", blocking=True,
                description="Every inventory flag is in config/ingestion.yaml known_flags.")
def flags_in_vocabulary(waste_inventory: pd.DataFrame) -> dg.AssetCheckResult:
    from rexai_assets.raw import tables

    return problems_result(unknown_flags(waste_inventory, tables.ingestion_settings().known_flags), "unknown flags")


@dg.asset_check(asset="waste_materials", name="families_consistent", blocking=True,
                additional_ins={"waste_inventory": dg.AssetIn("waste_inventory")},
                description="Families in vocabulary, shares sum to 1 per item, every inventory item has materials.")
def families_consistent(waste_materials: pd.DataFrame, waste_inventory: pd.DataFrame) -> dg.AssetCheckResult:
    return problems_result(material_problems(waste_materials, set(waste_inventory["waste_id"])), "material problems")


@dg.asset_check(asset="material_datasheets", name="families_in_vocabulary", blocking=True,
                description="Every data-sheet family is a known material family (or `unmapped`).")
def datasheet_families_known(material_datasheets: pd.DataFrame) -> dg.AssetCheckResult:
    from rexai_assets.raw import tables

    allowed = set(tables.ingestion_settings().material_families) | {"unmapped"}
    unknown = sorted(set(material_datasheets["family"]) - allowed)
    covered = sorted(set(material_datasheets["family"]) - {"unmapped"})
    return problems_result([f"unknown family {f!r}" for f in unknown], "unknown families",
                   families_covered=dg.MetadataValue.json(covered))


SPECIFIC_CHECKS: list[Callable] = [flags_in_vocabulary, families_consistent, datasheet_families_known]
RAW_CHECKS = [check for spec in TABLE_SPECS for check in _generic_checks(spec)] + SPECIFIC_CHECKS
