"""The raw layer's reading and validation, without Dagster: each bad input yields its error record
and every good row of the same file still comes through."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rexai_assets.raw import tables

INVENTORY = "nasa_waste_inventory.csv"


def edit_inventory(raw: Path, replace: dict[str, str] | None = None, append: list[str] | None = None) -> Path:
    path = raw / INVENTORY
    text = path.read_text()
    for old, new in (replace or {}).items():
        assert old in text, old
        text = text.replace(old, new)
    if append:
        text = text.rstrip("\n") + "\n" + "\n".join(append) + "\n"
    path.write_text(text)
    return path


def load(raw: Path):
    return tables.load_inventory(raw / INVENTORY, tables.ingestion_settings(), run_id="test-run")


def only_rejection(result):
    assert len(result.rejected) == 1, [r.one_line() for r in result.rejected]
    return result.rejected[0]


def test_shipped_inventory_loads_completely(raw_copy):
    result, materials = load(raw_copy)
    assert len(result.frame) == 16 and result.rejected == []
    assert result.frame["mass_kg"].dtype == float and result.frame["difficulty_factor"].dtype == "int64"
    assert set(materials["waste_id"]) == set(result.frame["waste_id"])


def test_negative_mass_is_rejected_and_the_rest_kept(raw_copy):
    edit_inventory(raw_copy, {"W004,Fabrics,Towels/Wash Cloths,Cotton 100%,280": "W004,Fabrics,Towels/Wash Cloths,Cotton 100%,-280"})
    result, _ = load(raw_copy)
    row = only_rejection(result)
    assert (row.source_file, row.line, row.column, row.value) == (INVENTORY, 5, "mass_kg", -280.0)
    assert "greater_than(0)" in row.reason and row.run_id == "test-run"
    assert len(result.frame) == 15 and "W004" not in set(result.frame["waste_id"])


def test_duplicate_id_keeps_first_and_names_it(raw_copy):
    edit_inventory(raw_copy, append=['W003,Fabrics,Clothing copy,Cotton 100%,10,0.1,4.0,1,1,x,2,"textile",dup'])
    result, _ = load(raw_copy)
    row = only_rejection(result)
    assert row.line == 18 and row.column == "id" and "duplicate id 'W003' (first at line 4)" in row.reason
    assert len(result.frame) == 16
    assert result.frame.set_index("waste_id").at["W003", "item"] == "Clothing"


def test_missing_id_is_rejected(raw_copy):
    edit_inventory(raw_copy, append=[',Fabrics,No id,Cotton 100%,10,0.1,4.0,1,1,x,2,"textile",no id'])
    result, _ = load(raw_copy)
    row = only_rejection(result)
    assert (row.line, row.column, row.reason) == (18, "id", "missing id")
    assert len(result.frame) == 16


@pytest.mark.parametrize("materials, reason", [
    ("Nylon 140%", "share 140% of 'Nylon' is outside (0, 100]"),
    ("Nylon 60%; Polyethylene 50%", "material shares sum to 110%, over 100%"),
    ("Unobtainium 50%", "unknown material 'Unobtainium'"),
])
def test_bad_key_materials_are_rejected(raw_copy, materials, reason):
    edit_inventory(raw_copy, {"Nylon 41%; Polyethylene 33%; EVOH 11%": materials})
    result, long_table = load(raw_copy)
    row = only_rejection(result)
    assert (row.line, row.column, row.value) == (8, "key_materials", materials)
    assert reason in row.reason
    assert "W007" not in set(result.frame["waste_id"]) and "W007" not in set(long_table["waste_id"])
    assert len(result.frame) == 15


def test_unknown_flag_and_bad_difficulty_and_text_in_number(raw_copy):
    edit_inventory(raw_copy, {'"closed_cell;foam"': '"closed_cell;sparkly"',
                              "Nitrile 100%,41,0.22,2.0,41,22,MedPride Gloves,1": "Nitrile 100%,41,0.22,2.0,41,22,MedPride Gloves,7",
                              "W012,Packaging,Bubble Wrap Filler,Polyethylene 100%,18": "W012,Packaging,Bubble Wrap Filler,Polyethylene 100%,eighteen"})
    result, _ = load(raw_copy)
    by_line = {r.line: r for r in result.rejected}
    assert set(by_line) == {2, 13, 17}
    assert by_line[2].column == "flags" and by_line[17].column == "difficulty_factor"
    assert by_line[13].column == "mass_kg" and "not of type float64" in by_line[13].reason
    assert len(result.frame) == 13


@pytest.mark.parametrize("content, message", [
    (b"", "file is empty"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary file"),
    ("id,caf\xe9\n".encode("latin-1"), "not UTF-8"),
    (b"just one line of prose without separators\nand another\n", "not a CSV table"),
])
def test_unusable_files_raise_one_line_naming_the_file(raw_copy, content, message):
    (raw_copy / INVENTORY).write_bytes(content)
    with pytest.raises(tables.RawFileError) as info:
        load(raw_copy)
    text = str(info.value)
    assert text.startswith(f"{INVENTORY}: ") and message in text and "\n" not in text


def test_missing_column_names_it(raw_copy):
    path = raw_copy / INVENTORY
    lines = path.read_text().splitlines()
    path.write_text("\n".join(line.rsplit(",", 1)[0] if not line.endswith('"') else line[: line.rfind(',"')]
                              for line in lines) + "\n")
    with pytest.raises(tables.RawFileError, match=rf"^{INVENTORY}: missing column\(s\) notes$"):
        load(raw_copy)


@pytest.mark.parametrize("text, expected", [
    ("Nylon 41%; Polyethylene 33%; EVOH 11%", [("evoh", .11), ("nylon", .41), ("other", .15), ("polyethylene", .33)]),
    ("Aluminum >90%", [("aluminum", .9), ("other", .1)]),
    ("PVDF foam", [("pvdf", 1.0)]),
    ("Thermoset 40%; Carbon Fiber 60%", [("carbon_fiber", .6), ("thermoset", .4)]),
    ("Cotton 100%", [("cotton", 1.0)]),
])
def test_parse_key_materials(text, expected):
    parsed = tables.parse_key_materials(text, tables.ingestion_settings().material_families)
    assert [f for f, _ in parsed] == [f for f, _ in expected]
    assert [s for _, s in parsed] == pytest.approx([s for _, s in expected])
    assert sum(s for _, s in parsed) <= 1.0 + 1e-12


def test_csv_table_bad_rows_are_reported_and_good_rows_kept(raw_copy):
    path = raw_copy / "process_catalog.csv"
    path.write_text(path.read_text().replace("P02,Press & Heat Lamination,indoor,0.55", "P02,Press & Heat Lamination,indoor,-0.55"))
    result = tables.load_table("process_catalog", raw_copy, run_id="r1")
    row = only_rejection(result)
    assert (row.line, row.column) == (3, "energy_kwh_per_kg")
    assert list(result.frame["process_id"]) == ["P01", "P03", "P04"]


def test_rejected_share_over_threshold_fails_with_reason(raw_copy):
    path = raw_copy / "process_catalog.csv"
    text = path.read_text().replace(",0.12,", ",-1,").replace(",0.55,", ",-1,")
    path.write_text(text)
    result = tables.load_table("process_catalog", raw_copy)
    with pytest.raises(tables.RejectedShareExceeded, match=r"process_catalog.csv: 50% of 4 rows rejected \(limit 25%\)"):
        tables.enforce_rejected_share(result, tables.ingestion_settings().max_rejected_share)


def test_presets_json_validation(raw_copy):
    path = raw_copy / "targets_presets.json"
    presets = json.loads(path.read_text())
    presets[1]["rigidity"] = 1.7
    presets.append(dict(presets[0]))
    path.write_text(json.dumps(presets))
    result = tables.load_presets(path)
    assert {(r.line, r.column) for r in result.rejected} == {(5, "name"), (2, "rigidity")}
    assert list(result.frame["name"]) == ["Container", "Interior", "Tool"]


def test_datasheets_normalised_to_common_units(raw_copy):
    sheets, rejected, broken = tables.load_datasheets(raw_copy / "materials", tables.ingestion_settings())
    assert rejected == [] and broken == {}
    pet = sheets[sheets["family"] == "pet"].iloc[0]
    assert (pet.density_g_cm3, pet.tensile_modulus_gpa, pet.tensile_strength_mpa) == pytest.approx((1.44, 3.3, 76.0))
    nomex = sheets[sheets["family"] == "nomex"].iloc[0]
    assert nomex.tensile_strength_mpa == pytest.approx(227 / (10 * 0.18))
    assert set(sheets["family"]) >= {"pet", "polyethylene", "nomex", "nylon", "nitrile", "evoh", "cotton", "unmapped"}
    props = tables.family_properties(sheets)
    assert props.loc["cotton", "tensile_strength_mpa"] == pytest.approx((287 + 597) / 2)


def test_load_raw_tables_bundle():
    raw = tables.load_raw_tables(Path(__file__).resolve().parents[1] / "data" / "raw")
    assert list(raw.processes["process_id"]) == ["P01", "P02", "P03", "P04"]
    assert set(raw.presets["name"]) == {"Container", "Utensil", "Interior", "Tool"}
    assert raw.materials.groupby("waste_id")["share"].sum().round(9).eq(1).all()
