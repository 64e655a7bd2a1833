"""The `raw` asset group: each shipped reference file as an observable source, and its validated table.

A source file's data version is its sha256, so editing a CSV makes every asset built from it stale.
Table logic lives in `rexai_assets.raw.tables` (imported inside the bodies: pandera is not needed to
load the definitions).
"""



from pathlib import Path
from typing import Any, Callable

import warnings

import dagster as dg
import pandas as pd

from rexai_assets.resources import RexaiStorage

# Observable sources and explicit data versions are the documented way to version external files;
# their beta flags are noise here.
warnings.filterwarnings("ignore", message=".*(observable_source_asset|data_version).*", category=dg.BetaWarning)

GROUP = "raw"
KINDS = {"pandas", "csv"}

# asset name -> (source files relative to raw/, description)
RAW_TABLES: dict[str, tuple[tuple[str, ...], str]] = {
    "waste_inventory": (("nasa_waste_inventory.csv",), "NASA non-metabolic waste inventory, typed and validated."),
    "process_catalog": (("process_catalog.csv",), "Recycling processes P01–P04 with energy, water and crew cost."),
    "mgs1_composition": (("mgs1_composition.csv",), "MGS-1 regolith simulant mineralogy (wt %)."),
    "mgs1_oxides": (("mgs1_oxides.csv",), "MGS-1 bulk oxide composition (wt %)."),
    "mgs1_properties": (("mgs1_properties.csv",), "MGS-1 bulk physical and thermal properties."),
    "trash_to_gas": (("nasa_trash_to_gas.csv",), "NASA Trash-to-Gas yields per mission phase."),
    "logistics_to_living": (("logistics_to_living.csv",), "NASA Logistics-to-Living cargo bag reuse scenarios."),
    "target_presets": (("targets_presets.json",), "Target product presets with required properties and resource caps."),
    "material_datasheets": (
        tuple(f"materials/{name}" for name in (
            "ertalyte_petp_properties.csv", "hdpe_properties.csv", "nomex410_properties.csv",
            "rexai_material_reference_nylon66.csv", "rexai_materials_ref_polyolefins_evoh_nbr.csv",
            "textile_fibers_reference.csv")),
        "Material data-sheet properties normalised to density, modulus, strength and elongation."),
}


def source_key(relative_path: str) -> dg.AssetKey:
    stem = Path(relative_path).name.split(".")[0]
    return dg.AssetKey(["raw_files", stem])


def _source_factory(relative_path: str) -> dg.SourceAsset:

    @dg.observable_source_asset(key=source_key(relative_path), group_name=GROUP,
                                description=f"Shipped reference file raw/{relative_path}; data version = sha256.",
                                required_resource_keys={"storage"})
    def _observe(context) -> dg.DataVersion:
        from rexai_assets.hashing import sha256_file

        path = context.resources.storage.layout.raw / relative_path
        if not path.exists():
            raise dg.Failure(f"raw/{relative_path}: file not found")
        return dg.DataVersion(sha256_file(path))

    return _observe


SOURCE_FILES = sorted({path for files, _ in RAW_TABLES.values() for path in files})
RAW_SOURCES = [_source_factory(path) for path in SOURCE_FILES]


def table_metadata(frame: pd.DataFrame, file_hashes: dict[str, str], rejected: int) -> dict[str, Any]:
    columns = [dg.TableColumn(name=str(c), type=str(t)) for c, t in frame.dtypes.items()]
    return {
        "dagster/row_count": dg.MetadataValue.int(len(frame)),
        "dagster/column_schema": dg.MetadataValue.table_schema(dg.TableSchema(columns=columns)),
        "rejected_rows": dg.MetadataValue.int(rejected),
        "source_sha256": dg.MetadataValue.json(file_hashes),
        "preview": dg.MetadataValue.md(frame.head(10).to_markdown(index=False)),
    }


def publish_table(context: dg.AssetExecutionContext, storage: RexaiStorage, files: tuple[str, ...],
                  load: Callable[[Path, str], Any]) -> dg.Output:
    """Run a table loader; log its rejected rows; fail with one line on a whole-file error or too many rejections."""
    from rexai_assets.hashing import sha256_file, sha256_json
    from rexai_assets.ingestion_log import RejectedRow, append_rejections
    from rexai_assets.raw import tables

    layout = storage.layout
    try:
        results = load(layout.raw, context.run_id)
    except tables.RawFileError as exc:
        file_name = str(exc).split(":", 1)[0]
        append_rejections(layout.ingestion_errors, [RejectedRow(file_name, None, None, None, str(exc), context.run_id)])
        raise dg.Failure(description=str(exc), allow_retries=False) from None
    frame, rejected = results.frame, results.rejected
    append_rejections(layout.ingestion_errors, rejected)
    for row in rejected[:20]:
        context.log.warning(f"rejected {row.one_line()}")
    try:
        tables.enforce_rejected_share(results, tables.ingestion_settings().max_rejected_share)
    except tables.RejectedShareExceeded as exc:
        raise dg.Failure(description=str(exc), allow_retries=False) from None
    hashes = {f: sha256_file(layout.raw / f) for f in files}
    return dg.Output(frame, data_version=dg.DataVersion(sha256_json(hashes)),
                     metadata=table_metadata(frame, hashes, len(rejected)))


def _csv_table_asset(name: str) -> dg.AssetsDefinition:
    files, description = RAW_TABLES[name]

    @dg.asset(name=name, group_name=GROUP, kinds=KINDS, description=description,
              deps=[source_key(f) for f in files])
    def _table(context: dg.AssetExecutionContext, storage: RexaiStorage) -> dg.Output[pd.DataFrame]:
        from rexai_assets.raw import tables

        return publish_table(context, storage, files, lambda raw, run_id: tables.load_table(name, raw, run_id))

    return _table


@dg.asset(group_name=GROUP, kinds=KINDS, deps=[source_key(f) for f in RAW_TABLES["waste_inventory"][0]])
def waste_inventory(context: dg.AssetExecutionContext, storage: RexaiStorage) -> dg.Output[pd.DataFrame]:
    """NASA non-metabolic waste inventory, typed and validated (rows whose key_materials do not parse are rejected)."""
    from rexai_assets.raw import tables

    def load(raw: Path, run_id: str) -> tables.TableResult:
        result, _ = tables.load_inventory(raw / tables.RAW_FILES["waste_inventory"], tables.ingestion_settings(), run_id)
        return result

    return publish_table(context, storage, RAW_TABLES["waste_inventory"][0], load)


@dg.asset(group_name=GROUP, kinds={"pandas"})
def waste_materials(waste_inventory: pd.DataFrame) -> dg.Output[pd.DataFrame]:
    """Long table (waste_id, material family, mass share) parsed from key_materials; the remainder is `other`."""
    from rexai_assets.raw import tables

    materials, rejected, _ = tables.explode_materials(
        waste_inventory, tables.ingestion_settings().material_families, "nasa_waste_inventory.csv")
    if rejected:  # the inventory asset already rejected these rows; reaching here means the two disagree
        raise dg.Failure(description=rejected[0].one_line())
    return dg.Output(materials, metadata={"dagster/row_count": len(materials),
                                          "families": sorted(materials["family"].unique().tolist())})


@dg.asset(group_name=GROUP, kinds={"pandas", "json"}, deps=[source_key(f) for f in RAW_TABLES["target_presets"][0]])
def target_presets(context: dg.AssetExecutionContext, storage: RexaiStorage) -> dg.Output[pd.DataFrame]:
    """Target product presets (Container, Utensil, Interior, Tool) with required properties and resource caps."""
    from rexai_assets.raw import tables

    return publish_table(context, storage, RAW_TABLES["target_presets"][0],
                         lambda raw, run_id: tables.load_presets(raw / tables.RAW_FILES["target_presets"], run_id))


@dg.asset(group_name=GROUP, kinds=KINDS, deps=[source_key(f) for f in RAW_TABLES["material_datasheets"][0]])
def material_datasheets(context: dg.AssetExecutionContext, storage: RexaiStorage) -> dg.Output[pd.DataFrame]:
    """Material data-sheet properties normalised to density, modulus, strength and elongation per material."""
    from rexai_assets.raw import tables

    def load(raw: Path, run_id: str) -> tables.TableResult:
        frame, rejected, broken = tables.load_datasheets(raw / tables.DATASHEET_FOLDER, tables.ingestion_settings(), run_id)
        if broken:
            raise tables.RawFileError(next(iter(broken.values())))
        return tables.TableResult("materials/*.csv", frame, rejected, total_rows=len(frame) + len(rejected))

    return publish_table(context, storage, RAW_TABLES["material_datasheets"][0], load)


CSV_TABLE_ASSETS = [_csv_table_asset(name) for name in
                    ("process_catalog", "mgs1_composition", "mgs1_oxides", "mgs1_properties",
                     "trash_to_gas", "logistics_to_living")]

RAW_ASSETS = [waste_inventory, waste_materials, target_presets, material_datasheets, *CSV_TABLE_ASSETS]
