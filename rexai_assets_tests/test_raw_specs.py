"""One list of raw table specs generates the raw sources, table assets and generic checks, and the
loaders read every spec'd table of the shipped data."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pandera.pandas as pa
import pytest

from rexai_assets.raw import tables
from rexai_assets.raw.assets import source_key
from rexai_assets.raw.defs import defs
from rexai_assets.raw.specs import DATASHEET_FILES, SOURCE_FILES, TABLE_SPECS

SHIPPED_RAW = Path(__file__).resolve().parents[1] / "data" / "raw"


def _table_assets() -> dict[str, dg.AssetsDefinition]:
    return {a.key.to_user_string(): a for a in defs.assets if isinstance(a, dg.AssetsDefinition) and not a.is_external}


def test_specs_generate_exactly_the_table_assets():
    assets = _table_assets()
    assert set(assets) == {spec.name for spec in TABLE_SPECS}
    for spec in TABLE_SPECS:
        asset = assets[spec.name]
        node = next(iter(asset.specs))
        assert node.description == spec.description and set(node.kinds) == set(spec.kinds), spec.name
        expected_deps = {source_key(f) for f in spec.files} or {dg.AssetKey("waste_inventory")}
        assert set(asset.dependency_keys) == expected_deps, spec.name


def test_specs_generate_exactly_one_source_per_file():
    sources = {a.key for a in defs.assets if a not in _table_assets().values()}
    assert sources == {source_key(f) for f in SOURCE_FILES}
    assert len(SOURCE_FILES) == len({f for spec in TABLE_SPECS for f in spec.files})


def test_specs_generate_the_generic_checks():
    checks = {(c.asset_key.to_user_string(), c.name) for check in defs.asset_checks for c in check.check_specs}
    for spec in TABLE_SPECS:
        expected = {"row_count", "schema"} | ({"unique_keys"} if spec.keys else set())
        assert expected <= {name for asset, name in checks if asset == spec.name}, spec.name
    generic = {(a, n) for a, n in checks if n in ("row_count", "schema", "unique_keys")}
    assert len(generic) == sum(3 if spec.keys else 2 for spec in TABLE_SPECS)


@pytest.mark.parametrize("spec", [s for s in TABLE_SPECS if s.files], ids=lambda s: s.name)
def test_every_file_backed_spec_loads_the_shipped_table_within_its_schema(spec):
    result = tables.load_table(spec.name, SHIPPED_RAW)
    assert result.rejected == [] and len(result.frame) >= spec.min_rows
    schema = tables.table_schema(spec)
    assert isinstance(schema, pa.DataFrameSchema)
    schema.validate(result.frame)
    assert not result.frame.duplicated(list(spec.keys)).any() if spec.keys else True


def test_derived_table_is_not_read_from_a_file():
    with pytest.raises(ValueError, match="waste_materials: derived"):
        tables.load_table("waste_materials", SHIPPED_RAW)


def test_datasheet_layouts_cover_exactly_the_spec_files():
    assert set(tables.DATASHEET_LAYOUTS) == set(DATASHEET_FILES)


def test_load_raw_tables_reads_through_the_same_loaders():
    raw = tables.load_raw_tables(SHIPPED_RAW)
    assert raw.processes.equals(tables.load_table("process_catalog", SHIPPED_RAW).frame)
    assert raw.presets.equals(tables.load_table("target_presets", SHIPPED_RAW).frame)
    assert raw.materials.equals(tables.materials_table(raw.inventory))


def test_the_derived_table_satisfies_its_spec_schema():
    spec = next(s for s in TABLE_SPECS if not s.files)
    materials = tables.materials_table(tables.load_table("waste_inventory", SHIPPED_RAW).frame)
    tables.table_schema(spec).validate(materials)
    assert not materials.duplicated(list(spec.keys)).any()
