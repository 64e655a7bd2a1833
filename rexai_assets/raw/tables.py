"""Reading and validating the shipped reference tables, without Dagster.

Which tables exist, their files, keys and schemas are declared once in `raw.specs.TABLE_SPECS`;
`load_table` reads any of them and `load_raw_tables` reads the ones the models need, through the same
loaders the raw assets use. Every table goes through the same path: read the file defensively (empty, binary, non-UTF-8,
not CSV and missing columns are whole-file errors naming the file), validate each row with a
pandera schema, and split the rows into accepted ones and `RejectedRow` records that name the
file, line, column, value and reason. Bad rows never stop good rows.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
import pandera.pandas as pa

from rexai_assets import settings
from rexai_assets.ingestion_log import RejectedRow
from rexai_assets.raw.specs import DATASHEET_FILES, DATASHEET_FOLDER, SPECS_BY_NAME, TABLE_SPECS, TableSpec

HEADER_LINES = 1  # data row i (0-based) sits on line i + 2 of a CSV with one header line


class IngestionSettings(settings.StrictModel):
    max_rejected_share: float = 0.25
    known_flags: tuple[str, ...]
    material_families: dict[str, tuple[str, ...]]
    datasheet_families: dict[str, str]

    @property
    def family_names(self) -> tuple[str, ...]:
        return tuple(self.material_families) + ("other",)


def ingestion_settings() -> IngestionSettings:
    return settings.load("ingestion.yaml", IngestionSettings)


class RawFileError(ValueError):
    """A whole file cannot be used; the message is one line naming the file."""


class RejectedShareExceeded(ValueError):
    """Too many rows of one table were rejected to trust the rest."""


@dataclass
class TableResult:
    """Accepted rows (typed) and the records of rejected ones."""

    source_file: str
    frame: pd.DataFrame
    rejected: list[RejectedRow] = field(default_factory=list)
    total_rows: int = 0

    @property
    def rejected_share(self) -> float:
        return len({r.line for r in self.rejected}) / self.total_rows if self.total_rows else 0.0


# ---------------------------------------------------------------------------------------------
# Reading


def read_text(path: Path) -> str:
    """The file's text, or a RawFileError saying why it is not a readable text table."""
    name = path.name
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise RawFileError(f"{name}: file not found") from None
    except OSError as exc:
        raise RawFileError(f"{name}: cannot read ({exc.strerror})") from None
    if not data.strip():
        raise RawFileError(f"{name}: file is empty")
    if b"\x00" in data[:8192]:
        raise RawFileError(f"{name}: binary file, not a text table")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RawFileError(f"{name}: not UTF-8 text (invalid byte at offset {exc.start})") from None


def read_csv_strings(path: Path, required_columns: list[str]) -> pd.DataFrame:
    """All cells as stripped strings (None when empty), with the header checked."""
    text = read_text(path)
    try:
        header = next(csv.reader(io.StringIO(text)))
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, skipinitialspace=True)
    except (csv.Error, pd.errors.ParserError, StopIteration) as exc:
        raise RawFileError(f"{path.name}: not a CSV table ({str(exc).splitlines()[0]})") from None
    if len(header) < 2:
        raise RawFileError(f"{path.name}: not a CSV table (header has {len(header)} column)")
    missing = [c for c in required_columns if c not in frame.columns]
    if missing:
        raise RawFileError(f"{path.name}: missing column(s) {', '.join(missing)}")
    if frame.empty:
        raise RawFileError(f"{path.name}: no data rows")
    frame = frame.apply(lambda col: col.str.strip())
    return frame.replace({"": None})


# ---------------------------------------------------------------------------------------------
# Row validation


def _failure_reason(check: str, value: Any) -> str:
    check = str(check)
    if check.startswith(("coerce_dtype", "dtype(")):
        wanted = re.search(r"'([^']+)'", check)
        return f"value {value!r} is not of type {wanted.group(1) if wanted else check}"
    if check == "not_nullable":
        return "value is missing"
    return f"value {value!r} fails check {check}"


def validate_rows(frame: pd.DataFrame, schema: pa.DataFrameSchema, source_file: str,
                  line_of: Callable[[Any], int | None], run_id: str | None = None,
                  layer: str = "raw") -> tuple[pd.DataFrame, list[RejectedRow]]:
    """Validate every row; return the typed good rows and one record per failed (row, column)."""
    rejected: list[RejectedRow] = []
    remaining = frame
    # Two passes at most: dropping the failing rows can only remove failures, never add them.
    for _ in range(3):
        try:
            return schema.validate(remaining, lazy=True), rejected
        except pa.errors.SchemaErrors as errors:
            cases = errors.failure_cases
            row_cases = cases[cases["index"].notna()]
            if row_cases.empty:
                first = cases.iloc[0]
                raise RawFileError(f"{source_file}: {first['column']}: {_failure_reason(first['check'], first['failure_case'])}") from None
            bad_index = set()
            for case in row_cases.itertuples():
                index = case.index
                bad_index.add(index)
                rejected.append(RejectedRow(source_file=source_file, line=line_of(index), column=case.column,
                                            value=case.failure_case, reason=_failure_reason(case.check, case.failure_case),
                                            run_id=run_id, layer=layer))
            remaining = remaining.drop(index=[i for i in bad_index if i in remaining.index])
    raise RawFileError(f"{source_file}: validation did not converge")


def reject_duplicates(frame: pd.DataFrame, column: str, source_file: str, run_id: str | None = None,
                      line_of: Callable[[Any], int] | None = None) -> tuple[pd.DataFrame, list[RejectedRow]]:
    """Keep the first row of each id; every later row with the same id is rejected, naming the first line."""
    line_of = line_of or csv_line
    present = frame[column].notna()
    duplicated = frame[column].duplicated(keep="first") & present
    first_line: dict[Any, int] = {}
    for index, value in frame.loc[present, column].items():
        first_line.setdefault(value, line_of(index))
    rejected = [RejectedRow(source_file, line_of(i), column, frame.at[i, column],
                            f"duplicate {column} {frame.at[i, column]!r} (first at line {first_line[frame.at[i, column]]})",
                            run_id)
                for i in frame.index[duplicated]]
    return frame[~duplicated], rejected


def csv_line(index: Any) -> int:
    return int(index) + HEADER_LINES + 1


# ---------------------------------------------------------------------------------------------
# Schemas

PERCENT = [pa.Check.ge(0), pa.Check.le(100)]
NON_NEGATIVE = [pa.Check.ge(0)]


def _text(nullable: bool = False, **kwargs: Any) -> pa.Column:
    return pa.Column(str, nullable=nullable, **kwargs)


def inventory_schema(known_flags: tuple[str, ...]) -> pa.DataFrameSchema:
    vocabulary = set(known_flags)

    def flags_known(value: Any) -> bool:
        return value is None or all(f.strip() in vocabulary for f in str(value).split(";") if f.strip())

    return pa.DataFrameSchema({
        "id": _text(checks=pa.Check.str_matches(r"^W\d{3}$")),
        "category": _text(),
        "item": _text(),
        "key_materials": _text(),
        "mass_kg": pa.Column(float, checks=pa.Check.gt(0)),
        "volume_m3": pa.Column(float, checks=pa.Check.gt(0)),
        "moisture_pct": pa.Column(float, checks=PERCENT),
        "pct_mass": pa.Column(float, checks=PERCENT),
        "pct_volume": pa.Column(float, checks=PERCENT),
        "commercial_equivalent": _text(nullable=True),
        "difficulty_factor": pa.Column(int, checks=pa.Check.isin([1, 2, 3])),
        "flags": pa.Column(str, nullable=True,
                           checks=pa.Check(flags_known, element_wise=True, error="unknown flag")),
        "notes": _text(nullable=True),
    }, coerce=True, strict=False)


PROCESS_SCHEMA = pa.DataFrameSchema({
    "process_id": _text(checks=pa.Check.str_matches(r"^P\d{2}$")),
    "name": _text(),
    "location": _text(),
    "energy_kwh_per_kg": pa.Column(float, checks=NON_NEGATIVE),
    "water_l_per_kg": pa.Column(float, checks=NON_NEGATIVE),
    "crew_min_per_batch": pa.Column(float, checks=NON_NEGATIVE),
    "notes": _text(nullable=True),
}, coerce=True)


def _wt_schema(key: str) -> pa.DataFrameSchema:
    return pa.DataFrameSchema({
        "simulant": _text(),
        key: _text(),
        "wt_percent": pa.Column(float, checks=PERCENT),
    }, coerce=True)


MGS1_COMPOSITION_SCHEMA = _wt_schema("mineral")
MGS1_OXIDES_SCHEMA = _wt_schema("oxide")

MGS1_PROPERTIES_SCHEMA = pa.DataFrameSchema({
    "simulant": _text(),
    "property": _text(),
    "value": pa.Column(float),
    "units": _text(),
    "notes": _text(nullable=True),
}, coerce=True)

TRASH_TO_GAS_SCHEMA = pa.DataFrameSchema({
    "mission": _text(),
    "category": _text(),
    "kg_per_cm_day": pa.Column(float, checks=pa.Check.gt(0)),
    "gas_mix_h2_pct": pa.Column(float, checks=PERCENT),
    "gas_mix_co_pct": pa.Column(float, checks=PERCENT),
    "gas_mix_co2_pct": pa.Column(float, checks=PERCENT),
    "o2_ch4_yield_kg": pa.Column(float, checks=NON_NEGATIVE),
    "water_makeup_kg": pa.Column(float, checks=NON_NEGATIVE),
    "isp_resistojet_s": pa.Column(float, checks=NON_NEGATIVE),
    "isp_cold_gas_s": pa.Column(float, checks=NON_NEGATIVE),
    "delta_v_ms": pa.Column(float, checks=NON_NEGATIVE),
}, coerce=True)

LOGISTICS_SCHEMA = pa.DataFrameSchema({
    "scenario": _text(),
    "crew_days": pa.Column(float, checks=pa.Check.gt(0)),
    "crew_count": pa.Column(int, checks=pa.Check.gt(0)),
    "goods_kg": pa.Column(float, checks=NON_NEGATIVE),
    "packaging_kg": pa.Column(float, checks=NON_NEGATIVE),
    "ctb_count": pa.Column(int, checks=NON_NEGATIVE),
    "reuse_plan": _text(),
    "outfitting_replaced_kg": pa.Column(float, checks=NON_NEGATIVE),
    "residual_waste_kg": pa.Column(float, checks=NON_NEGATIVE),
}, coerce=True)

PRESET_SCHEMA = pa.DataFrameSchema({
    "name": _text(),
    "rigidity": pa.Column(float, checks=[pa.Check.ge(0), pa.Check.le(1)]),
    "tightness": pa.Column(float, checks=[pa.Check.ge(0), pa.Check.le(1)]),
    "max_water_l": pa.Column(float, checks=pa.Check.gt(0)),
    "max_energy_kwh": pa.Column(float, checks=pa.Check.gt(0)),
    "max_crew_min": pa.Column(float, checks=pa.Check.gt(0)),
}, coerce=True)

def published_inventory_schema() -> pa.DataFrameSchema:
    """The inventory as published: the file's `id` column is renamed `waste_id`."""
    return inventory_schema(ingestion_settings().known_flags).rename_columns({"id": "waste_id"})


def materials_schema() -> pa.DataFrameSchema:
    return pa.DataFrameSchema({
        "waste_id": pa.Column(str),
        "family": pa.Column(str, checks=pa.Check.isin(list(ingestion_settings().family_names))),
        "share": pa.Column(float, checks=[pa.Check.gt(0), pa.Check.le(1)]),
    })


DATASHEET_COLUMNS = ["material", "family", "source_file", "density_g_cm3", "tensile_modulus_gpa",
                     "tensile_strength_mpa", "elongation_pct"]
DATASHEET_SCHEMA = pa.DataFrameSchema({
    "material": _text(),
    "family": _text(),
    "source_file": _text(),
    "density_g_cm3": pa.Column(float, nullable=True, checks=[pa.Check.gt(0), pa.Check.lt(25)]),
    "tensile_modulus_gpa": pa.Column(float, nullable=True, checks=[pa.Check.gt(0), pa.Check.lt(1000)]),
    "tensile_strength_mpa": pa.Column(float, nullable=True, checks=[pa.Check.gt(0), pa.Check.lt(10000)]),
    "elongation_pct": pa.Column(float, nullable=True, checks=[pa.Check.ge(0), pa.Check.le(2000)]),
}, coerce=True)


# ---------------------------------------------------------------------------------------------
# Generic table loading


def load_csv_table(path: Path, schema: pa.DataFrameSchema, id_column: str | None,
                   run_id: str | None = None) -> TableResult:
    frame = read_csv_strings(path, list(schema.columns))
    name = path.name
    rejected: list[RejectedRow] = []
    if id_column:
        missing = frame[id_column].isna()
        rejected += [RejectedRow(name, csv_line(i), id_column, None, f"missing {id_column}", run_id)
                     for i in frame.index[missing]]
        frame, duplicates = reject_duplicates(frame[~missing], id_column, name, run_id)
        rejected += duplicates
    good, row_errors = validate_rows(frame, schema, name, csv_line, run_id)
    return TableResult(name, good.reset_index(drop=True), rejected + row_errors, total_rows=len(frame) + len(rejected))


def enforce_rejected_share(result: TableResult, max_share: float) -> None:
    if result.rejected_share > max_share:
        first = result.rejected[0].one_line()
        raise RejectedShareExceeded(
            f"{result.source_file}: {result.rejected_share:.0%} of {result.total_rows} rows rejected "
            f"(limit {max_share:.0%}); first: {first}")


# ---------------------------------------------------------------------------------------------
# key_materials

_MATERIAL_ENTRY = re.compile(r"^(?P<name>[^0-9<>~%]+?)\s*(?P<cmp>[<>~]=?)?\s*(?P<pct>\d+(?:\.\d+)?)\s*%$")


def _family_lookup(families: dict[str, tuple[str, ...]]) -> dict[str, str]:
    return {alias.lower(): family for family, aliases in families.items() for alias in (family, *aliases)}


def match_family(name: str, lookup: dict[str, str]) -> str | None:
    """Family of a material name: exact alias first, then the longest alias found as a word in it."""
    key = " ".join(name.lower().split())
    if key in lookup:
        return lookup[key]
    hits = [alias for alias in lookup if re.search(rf"(?<![a-z]){re.escape(alias)}(?![a-z])", key)]
    return lookup[max(hits, key=len)] if hits else None


def parse_key_materials(text: str, families: dict[str, tuple[str, ...]]) -> list[tuple[str, float]]:
    """`"Nylon 41%; Polyethylene 33%"` -> [(nylon, .41), (polyethylene, .33), (other, .26)].

    A single entry without a percentage (`"PVDF foam"`) is the whole item; `>90%` counts as 90 %.
    Raises ValueError with the reason when an entry is unknown, a share exceeds 100 % or the
    shares sum over 100 %.
    """
    lookup = _family_lookup(families)
    entries = [e.strip() for e in str(text).split(";") if e.strip()]
    if not entries:
        raise ValueError("key_materials is empty")
    shares: dict[str, float] = {}
    for entry in entries:
        match = _MATERIAL_ENTRY.match(entry)
        if match:
            name, pct = match["name"].strip(), float(match["pct"])
        elif len(entries) == 1 and "%" not in entry:
            name, pct = entry, 100.0
        else:
            raise ValueError(f"cannot read material entry {entry!r} (expected 'Name NN%')")
        family = match_family(name, lookup)
        if family is None:
            raise ValueError(f"unknown material {name!r} in {entry!r}")
        if not 0 < pct <= 100:
            raise ValueError(f"share {pct:g}% of {name!r} is outside (0, 100]")
        shares[family] = shares.get(family, 0.0) + pct / 100.0
    total = sum(shares.values())
    if total > 1.0 + 1e-9:
        raise ValueError(f"material shares sum to {total * 100:g}%, over 100%")
    remainder = 1.0 - total
    if remainder > 1e-9:
        shares["other"] = shares.get("other", 0.0) + remainder
    return sorted(shares.items())


def explode_materials(inventory: pd.DataFrame, families: dict[str, tuple[str, ...]],
                      source_file: str, run_id: str | None = None) -> tuple[pd.DataFrame, list[RejectedRow], set[str]]:
    """Long table (waste_id, family, share) and the rejected rows; returns the ids rejected."""
    rows, rejected, bad_ids = [], [], set()
    for position, record in enumerate(inventory.itertuples(index=False)):
        try:
            parsed = parse_key_materials(record.key_materials, families)
        except ValueError as exc:
            line = int(getattr(record, "_line", position + HEADER_LINES + 1))
            rejected.append(RejectedRow(source_file, line, "key_materials", record.key_materials, str(exc), run_id))
            bad_ids.add(record.waste_id)
            continue
        rows += [(record.waste_id, family, share) for family, share in parsed]
    return pd.DataFrame(rows, columns=["waste_id", "family", "share"]), rejected, bad_ids


def load_inventory(path: Path, cfg: IngestionSettings, run_id: str | None = None) -> tuple[TableResult, pd.DataFrame]:
    """The inventory (with key_materials that parse) and its long material table."""
    schema = inventory_schema(cfg.known_flags)
    frame = read_csv_strings(path, list(schema.columns))
    frame["_line"] = [csv_line(i) for i in frame.index]
    name = path.name
    missing = frame["id"].isna()
    rejected = [RejectedRow(name, csv_line(i), "id", None, "missing id", run_id) for i in frame.index[missing]]
    kept, duplicates = reject_duplicates(frame[~missing], "id", name, run_id)
    good, row_errors = validate_rows(kept, schema, name, lambda i: int(frame.at[i, "_line"]), run_id)
    good = good.rename(columns={"id": "waste_id"})
    materials, material_errors, bad_ids = explode_materials(good, cfg.material_families, name, run_id)
    good = good[~good["waste_id"].isin(bad_ids)].drop(columns="_line").reset_index(drop=True)
    good["flags"] = good["flags"].fillna("")
    result = TableResult(name, good, rejected + duplicates + row_errors + material_errors, total_rows=len(frame))
    return result, materials


# ---------------------------------------------------------------------------------------------
# Target presets (JSON)


def load_presets(path: Path, run_id: str | None = None) -> TableResult:
    text = read_text(path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RawFileError(f"{path.name}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    if not isinstance(data, list) or not all(isinstance(p, dict) for p in data):
        raise RawFileError(f"{path.name}: expected a JSON list of preset objects")
    if not data:
        raise RawFileError(f"{path.name}: no presets")
    frame = pd.DataFrame(data)
    missing = [c for c in PRESET_SCHEMA.columns if c not in frame.columns]
    if missing:
        raise RawFileError(f"{path.name}: missing field(s) {', '.join(missing)}")
    frame = frame[list(PRESET_SCHEMA.columns)]
    item_no = lambda i: int(i) + 1  # noqa: E731 - the n-th preset object stands for a line number
    kept, rejected = reject_duplicates(frame, "name", path.name, run_id, line_of=item_no)
    good, errors = validate_rows(kept, PRESET_SCHEMA, path.name, item_no, run_id)
    return TableResult(path.name, good.reset_index(drop=True), rejected + errors, total_rows=len(frame))


# ---------------------------------------------------------------------------------------------
# Material data sheets: six layouts normalised to one table


def _col(name: str, scale: float = 1.0) -> Callable[[pd.DataFrame], pd.Series]:
    return lambda f: pd.to_numeric(f[name], errors="coerce") * scale


def _mid(low: str, high: str) -> Callable[[pd.DataFrame], pd.Series]:
    return lambda f: (pd.to_numeric(f[low], errors="coerce") + pd.to_numeric(f[high], errors="coerce")) / 2


def _none(frame: pd.DataFrame) -> pd.Series:
    return pd.Series(np.nan, index=frame.index)


def _long_property(prop: str, scale: float = 1.0) -> Callable[[pd.DataFrame], pd.Series]:
    def pick(f: pd.DataFrame) -> pd.Series:
        values = pd.to_numeric(f.loc[f["property"] == prop, "value"], errors="coerce") * scale
        return pd.Series(values.iloc[0] if len(values) else np.nan, index=f.index[:1])
    return pick


# file of `specs.DATASHEET_FILES` -> (material column, density, modulus GPa, strength MPa, elongation %)
DATASHEET_LAYOUTS: dict[str, tuple[str, Callable, Callable, Callable, Callable]] = {
    "ertalyte_petp_properties.csv": ("material", _long_property("density"), _long_property("tensile_modulus", 1e-3),
                                     _long_property("tensile_strength"), _long_property("elongation_at_break")),
    "hdpe_properties.csv": ("material", _col("density_g_cm3"), _col("E_modulus_tension_GPa"),
                            _col("tensile_strength_yield_MPa"), _col("elongation_yield_pct")),
    # Nomex paper is rated in N per cm of width: divide by thickness to get a stress (1 N/cm / 1 mm = 0.1 MPa).
    "nomex410_properties.csv": ("material", _col("density_g_cm3"), _none,
                                lambda f: _col("tensile_MD_N_cm")(f) / (10 * _col("thickness_mm")(f)),
                                _col("elongation_MD_pct")),
    "rexai_material_reference_nylon66.csv": ("material_name", _col("density_g_cm3"), _col("tensile_modulus_gpa"),
                                             _col("tensile_strength_mpa"), _col("tensile_strain_break_pct")),
    "rexai_materials_ref_polyolefins_evoh_nbr.csv": (
        "material", _col("density_g_cm3"),
        lambda f: _col("tensile_modulus_GPa")(f).fillna(_col("tensile_modulus_TD_MPa", 1e-3)(f)),
        lambda f: _col("tensile_strength_MPa")(f).fillna(_col("stress_break_MD_MPa")(f)),
        lambda f: _col("elongation_percent")(f).fillna(_col("elong_break_MD_pct")(f))),
    "textile_fibers_reference.csv": ("material", _mid("density_g_cm3_min", "density_g_cm3_max"),
                                     _mid("youngs_modulus_GPa_min", "youngs_modulus_GPa_max"),
                                     _mid("tensile_strength_MPa_min", "tensile_strength_MPa_max"),
                                     _mid("elongation_pct_min", "elongation_pct_max")),
}


def datasheet_family(material: str, mapping: dict[str, str]) -> str:
    lowered = material.lower()
    hits = [key for key in mapping if key in lowered]
    return mapping[max(hits, key=len)] if hits else "unmapped"


def load_datasheets(folder: Path, cfg: IngestionSettings, run_id: str | None = None) -> tuple[pd.DataFrame, list[RejectedRow], dict[str, str]]:
    """One row per sheet material with density, modulus, strength and elongation in common units.

    Returns the table, the rejected rows, and the files that could not be read at all (name -> reason),
    so one broken sheet never hides the others.
    """
    parts, rejected, broken = [], [], {}
    for file_name in DATASHEET_FILES:
        material_col, *props = DATASHEET_LAYOUTS[file_name]
        path = folder / file_name
        try:
            raw = read_csv_strings(path, [material_col])
        except RawFileError as exc:
            broken[file_name] = str(exc)
            continue
        if "property" in raw.columns:  # long layout: one material, one row per property
            raw = raw.groupby(material_col, sort=False).apply(
                lambda g: pd.DataFrame({material_col: [g.name], **{f"p{i}": [p(g).iloc[0]] for i, p in enumerate(props)}}),
                include_groups=False).reset_index(drop=True)
            values = [raw[f"p{i}"] for i in range(4)]
            lines = pd.Series([None] * len(raw))
        else:
            values = [p(raw) for p in props]
            lines = pd.Series([csv_line(i) for i in raw.index], index=raw.index)
        frame = pd.DataFrame({
            "material": raw[material_col].astype(str),
            "source_file": file_name,
            "density_g_cm3": values[0], "tensile_modulus_gpa": values[1],
            "tensile_strength_mpa": values[2], "elongation_pct": values[3],
        })
        frame["family"] = [datasheet_family(m, cfg.datasheet_families) for m in frame["material"]]
        frame = frame[DATASHEET_COLUMNS]
        good, errors = validate_rows(frame, DATASHEET_SCHEMA, file_name,
                                     lambda i, lines=lines: None if pd.isna(lines.get(i)) else int(lines.get(i)), run_id)
        parts.append(good)
        rejected += errors
    table = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=DATASHEET_COLUMNS)
    return table, rejected, broken


PROPERTY_COLUMNS = ["density_g_cm3", "tensile_modulus_gpa", "tensile_strength_mpa", "elongation_pct"]


def family_properties(datasheets: pd.DataFrame) -> pd.DataFrame:
    """Mean data-sheet property per mapped family (NaN where no sheet of that family gives it)."""
    mapped = datasheets[datasheets["family"] != "unmapped"]
    return mapped.groupby("family")[PROPERTY_COLUMNS].mean().sort_index()


# ---------------------------------------------------------------------------------------------
# Everything at once (CLI, serving, tests)


@dataclass(frozen=True)
class RawTables:
    inventory: pd.DataFrame
    materials: pd.DataFrame
    processes: pd.DataFrame
    oxides: pd.DataFrame
    mgs1_properties: pd.DataFrame
    datasheets: pd.DataFrame
    presets: pd.DataFrame

    @property
    def family_properties(self) -> pd.DataFrame:
        return family_properties(self.datasheets)

    @classmethod
    def from_assets(cls, waste_inventory: pd.DataFrame, waste_materials: pd.DataFrame, process_catalog: pd.DataFrame,
                    mgs1_oxides: pd.DataFrame, mgs1_properties: pd.DataFrame, material_datasheets: pd.DataFrame,
                    target_presets: pd.DataFrame | None = None) -> "RawTables":
        """From the raw assets' values, named as the assets are (features and labels need no presets)."""
        return cls(inventory=waste_inventory, materials=waste_materials, processes=process_catalog,
                   oxides=mgs1_oxides, mgs1_properties=mgs1_properties, datasheets=material_datasheets,
                   presets=pd.DataFrame() if target_presets is None else target_presets)


# File of each one-file table by name (`serving.recommend` reads the presets through it).
RAW_FILES: dict[str, str] = {spec.name: spec.files[0] for spec in TABLE_SPECS if len(spec.files) == 1}


def table_schema(spec: TableSpec) -> pa.DataFrameSchema:
    """The pandera schema the published table `spec` satisfies."""
    schema = globals()[spec.schema]
    return schema if isinstance(schema, pa.DataFrameSchema) else schema()


def load_table(name: str, raw_dir: Path, run_id: str | None = None) -> TableResult:
    """Accepted and rejected rows of the file-backed table `name` of `TABLE_SPECS`."""
    spec = SPECS_BY_NAME[name]
    if spec.loader == "inventory":
        return load_inventory(raw_dir / spec.files[0], ingestion_settings(), run_id)[0]
    if spec.loader == "presets":
        return load_presets(raw_dir / spec.files[0], run_id)
    if spec.loader == "datasheets":
        return load_datasheet_table(raw_dir / DATASHEET_FOLDER, run_id)
    if spec.loader == "csv":
        return load_csv_table(raw_dir / spec.files[0], table_schema(spec), spec.id_column, run_id)
    raise ValueError(f"{name}: derived from another table, not read from a file")


def load_datasheet_table(folder: Path, run_id: str | None = None) -> TableResult:
    """Every data sheet as one table; the first sheet that cannot be read at all fails the whole table."""
    frame, rejected, broken = load_datasheets(folder, ingestion_settings(), run_id)
    if broken:
        raise RawFileError(next(iter(broken.values())))
    return TableResult(f"{DATASHEET_FOLDER}/*.csv", frame, rejected, total_rows=len(frame) + len(rejected))


def materials_table(inventory: pd.DataFrame) -> pd.DataFrame:
    """`waste_materials` from the published inventory (whose key_materials all parse)."""
    cfg = ingestion_settings()
    materials, rejected, _ = explode_materials(inventory, cfg.material_families, RAW_FILES["waste_inventory"])
    if rejected:  # the inventory loader already rejected these rows; reaching here means the two disagree
        raise RawFileError(rejected[0].one_line())
    return materials


# The tables the models need (RawTables' fields), read by `load_raw_tables`.
MODEL_TABLES = ("waste_inventory", "process_catalog", "mgs1_oxides", "mgs1_properties", "material_datasheets",
                "target_presets")


def load_raw_tables(raw_dir: Path) -> RawTables:
    """The tables the models need, read like the raw assets; raises on a whole-file error or too many rejections."""
    max_share = ingestion_settings().max_rejected_share
    frames = {}
    for name in MODEL_TABLES:
        result = load_table(name, raw_dir)
        enforce_rejected_share(result, max_share)
        frames[name] = result.frame
    return RawTables.from_assets(waste_materials=materials_table(frames["waste_inventory"]), **frames)
