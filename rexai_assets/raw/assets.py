"""The `raw` asset group, generated from `specs.TABLE_SPECS`: each shipped file as an observable source,
and each table validated from its files.

A source file's data version is its sha256, so editing a CSV makes every asset built from it stale.
Table logic lives in `rexai_assets.raw.tables` (imported inside the bodies: pandera is not needed to
load the definitions).
"""

from pathlib import Path
from typing import Any

import warnings

import dagster as dg
import pandas as pd

from rexai_assets.raw.specs import SOURCE_FILES, SPECS_BY_NAME, TABLE_SPECS, TableSpec
from rexai_assets.resources import RexaiStorage

# Observable sources and explicit data versions are the documented way to version external files;
# their beta flags are noise here.
warnings.filterwarnings("ignore", message=".*(observable_source_asset|data_version).*", category=dg.BetaWarning)

GROUP = "raw"


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


def publish_table(context: dg.AssetExecutionContext, storage: RexaiStorage, spec: TableSpec) -> dg.Output:
    """Load `spec`'s table; log its rejected rows; fail with one line on a whole-file error or too many rejections."""
    from rexai_assets.hashing import sha256_file, sha256_json
    from rexai_assets.ingestion_log import RejectedRow, append_rejections
    from rexai_assets.raw import tables

    layout = storage.layout
    try:
        results = tables.load_table(spec.name, layout.raw, context.run_id)
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
    hashes = {f: sha256_file(layout.raw / f) for f in spec.files}
    return dg.Output(frame, data_version=dg.DataVersion(sha256_json(hashes)),
                     metadata=table_metadata(frame, hashes, len(rejected)))


def _table_asset(spec: TableSpec) -> dg.AssetsDefinition:
    @dg.asset(name=spec.name, group_name=GROUP, kinds=set(spec.kinds), description=spec.description,
              deps=[source_key(f) for f in spec.files])
    def _table(context: dg.AssetExecutionContext, storage: RexaiStorage) -> dg.Output[pd.DataFrame]:
        return publish_table(context, storage, spec)

    return _table


@dg.asset(group_name=GROUP, kinds=set(SPECS_BY_NAME["waste_materials"].kinds),
          description=SPECS_BY_NAME["waste_materials"].description)
def waste_materials(waste_inventory: pd.DataFrame) -> dg.Output[pd.DataFrame]:
    from rexai_assets.raw import tables

    try:
        materials = tables.materials_table(waste_inventory)
    except tables.RawFileError as exc:
        raise dg.Failure(description=str(exc)) from None
    return dg.Output(materials, metadata={"dagster/row_count": len(materials),
                                          "families": sorted(materials["family"].unique().tolist())})


# Every table read from files comes from its spec; the one derived table is `waste_materials`.
RAW_ASSETS = [_table_asset(spec) for spec in TABLE_SPECS if spec.files] + [waste_materials]
