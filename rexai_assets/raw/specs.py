"""The raw tables, declared once.

`TABLE_SPECS` is the single list of the raw layer: the Dagster sources (one per file), the table
assets and their generic checks (row count, schema, unique keys) are generated from it, and
`tables.load_table` / `tables.load_raw_tables` read through the same entries, so a file, a key or a
schema is named in one place. This module imports neither Dagster nor pandera: the definitions load
it, and the schema and loader are named here and resolved by `rexai_assets.raw.tables` when a table
is read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Loader = Literal["csv", "inventory", "presets", "datasheets"]
CSV_KINDS = frozenset({"pandas", "csv"})
DATASHEET_FOLDER = "materials"
DATASHEET_FILES = ("ertalyte_petp_properties.csv", "hdpe_properties.csv", "nomex410_properties.csv",
                   "rexai_material_reference_nylon66.csv", "rexai_materials_ref_polyolefins_evoh_nbr.csv",
                   "textile_fibers_reference.csv")


@dataclass(frozen=True)
class TableSpec:
    """One validated raw table: where it comes from, what it promises, how it is read."""

    name: str                         # the asset name
    files: tuple[str, ...]            # source files relative to raw/; () for a table derived from another
    description: str                  # one line: the asset's description
    keys: tuple[str, ...]             # columns unique together (checked); () for none
    schema: str                       # name in `raw.tables` of the published table's pandera schema (or its builder)
    loader: Loader | None = "csv"     # how `raw.tables.load_table` reads the files; None when derived
    kinds: frozenset[str] = CSV_KINDS
    min_rows: int = 1

    @property
    def id_column(self) -> str | None:
        """A single-column key is an id: CSV loading keeps its first row and rejects the repeats."""
        return self.keys[0] if len(self.keys) == 1 else None


TABLE_SPECS: tuple[TableSpec, ...] = (
    TableSpec("waste_inventory", ("nasa_waste_inventory.csv",),
              "NASA non-metabolic waste inventory, typed and validated (rows whose key_materials do not parse are rejected).",
              keys=("waste_id",), schema="published_inventory_schema", loader="inventory"),
    TableSpec("waste_materials", (),
              "Long table (waste_id, material family, mass share) parsed from key_materials; the remainder is `other`.",
              keys=("waste_id", "family"), schema="materials_schema", loader=None, kinds=frozenset({"pandas"})),
    TableSpec("process_catalog", ("process_catalog.csv",),
              "Recycling processes P01–P04 with energy, water and crew cost.",
              keys=("process_id",), schema="PROCESS_SCHEMA"),
    TableSpec("mgs1_composition", ("mgs1_composition.csv",), "MGS-1 regolith simulant mineralogy (wt %).",
              keys=("mineral",), schema="MGS1_COMPOSITION_SCHEMA"),
    TableSpec("mgs1_oxides", ("mgs1_oxides.csv",), "MGS-1 bulk oxide composition (wt %).",
              keys=("oxide",), schema="MGS1_OXIDES_SCHEMA"),
    TableSpec("mgs1_properties", ("mgs1_properties.csv",), "MGS-1 bulk physical and thermal properties.",
              keys=("property",), schema="MGS1_PROPERTIES_SCHEMA"),
    TableSpec("trash_to_gas", ("nasa_trash_to_gas.csv",), "NASA Trash-to-Gas yields per mission phase.",
              keys=("mission", "category"), schema="TRASH_TO_GAS_SCHEMA"),
    TableSpec("logistics_to_living", ("logistics_to_living.csv",), "NASA Logistics-to-Living cargo bag reuse scenarios.",
              keys=("scenario",), schema="LOGISTICS_SCHEMA"),
    TableSpec("target_presets", ("targets_presets.json",),
              "Target product presets (Container, Utensil, Interior, Tool) with required properties and resource caps.",
              keys=("name",), schema="PRESET_SCHEMA", loader="presets", kinds=frozenset({"pandas", "json"})),
    TableSpec("material_datasheets", tuple(f"{DATASHEET_FOLDER}/{name}" for name in DATASHEET_FILES),
              "Material data-sheet properties normalised to density, modulus, strength and elongation per material.",
              keys=(), schema="DATASHEET_SCHEMA", loader="datasheets"),
)

SPECS_BY_NAME: dict[str, TableSpec] = {spec.name: spec for spec in TABLE_SPECS}
SOURCE_FILES: tuple[str, ...] = tuple(sorted({path for spec in TABLE_SPECS for path in spec.files}))
