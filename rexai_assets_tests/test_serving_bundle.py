"""Sealed bundles: byte-reproducible builds, and verification that names every damaged, missing or extra file."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from rexai_assets.hashing import sha256_bytes
from rexai_assets.raw.tables import load_raw_tables
from rexai_assets.serving import bundle as bd
from rexai_assets.models.testing import saved_small_ensemble, small_gold

SHIPPED_RAW = Path(__file__).resolve().parents[1] / "data" / "raw"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """(model_dir, replay document, lineage) of a small real ensemble."""
    from rexai_assets.models.ensemble import TrainedEnsemble

    tables = load_raw_tables(SHIPPED_RAW)
    gold = small_gold(tables, size=400, raw_dir=SHIPPED_RAW)
    model_dir = saved_small_ensemble(gold, tmp_path_factory.mktemp("model") / "model")
    model = TrainedEnsemble.load(model_dir)
    cfg = bd.ReplaySettings(golden_rows=6, observation_rows=6)
    replay = bd.replay_document(model, bd.select_replay(gold, cfg), cfg)
    lineage = bd.lineage_record(model.metadata, gold.lineage, "test gold")
    return model_dir, replay, lineage


def build(built, folder: Path) -> bd.BundleResult:
    model_dir, replay, lineage = built
    return bd.write_bundle(folder, bd.build_bundle_bytes(model_dir, "3", "rexai", replay, lineage), "3")


def rewrite(path: Path, change) -> None:
    """Rewrite the ZIP with `change(members)` applied (a dict name -> bytes), keeping everything else."""
    with zipfile.ZipFile(path) as archive:
        members = {i.filename: archive.read(i) for i in archive.infolist()}
    change(members)
    path.write_bytes(bd.deterministic_zip(members))


def test_two_builds_are_byte_identical(built, tmp_path):
    first = build(built, tmp_path / "a")
    second = build(built, tmp_path / "b")
    assert first.sha256 == second.sha256
    assert first.path.read_bytes() == second.path.read_bytes()
    assert first.path.name == f"rexai-v3-{first.sha256[:12]}.zip"
    assert first.path.with_name(first.path.name + ".sha256").read_text().split()[0] == first.sha256
    with zipfile.ZipFile(first.path) as archive:
        infos = archive.infolist()
    assert [i.filename for i in infos] == sorted(i.filename for i in infos)
    assert all(i.date_time == (1980, 1, 1, 0, 0, 0) and (i.external_attr >> 16) & 0o777 == 0o644 for i in infos)
    assert not any(i.filename.startswith("/") for i in infos)


def test_intact_bundle_verifies_with_lineage(built, tmp_path):
    result = build(built, tmp_path)
    report = bd.verify_bundle(result.path)
    assert report.ok, report.problems
    assert report.replayed == len(built[1]["recipes"]) > 0
    with zipfile.ZipFile(result.path) as archive:
        lineage = json.loads(archive.read("lineage.json"))
        metadata = json.loads(archive.read("metadata.json"))
    assert lineage["raw_files"] and lineage["dataset_hash"] == built[2]["dataset_hash"]
    assert lineage["model_hash"] == metadata["model_hash"] and lineage["feature_order_hash"]


def member_names(built, tmp_path) -> list[str]:
    with zipfile.ZipFile(build(built, tmp_path / "names").path) as archive:
        return archive.namelist()


def test_a_byte_flipped_in_each_member_is_named(built, tmp_path):
    names = member_names(built, tmp_path)
    assert "MANIFEST.json" in names and any(n.startswith("model/") for n in names)
    for name in names:
        result = build(built, tmp_path / name.replace("/", "_"))
        target = result.path.with_name("damaged.zip")

        def flip(members, name=name):
            data = bytearray(members[name])
            data[len(data) // 2] ^= 0x01
            members[name] = bytes(data)

        target.write_bytes(result.path.read_bytes())
        rewrite(target, flip)
        report = bd.verify_bundle(target)
        assert not report.ok
        assert name in report.problems[0], (name, report.problems)


def test_a_byte_flipped_on_disk_inside_a_member_is_named(built, tmp_path):
    result = build(built, tmp_path)
    data = result.path.read_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        infos = archive.infolist()
    for info in infos:
        damaged = bytearray(data)
        name_len = len(info.filename.encode())
        extra_len = int.from_bytes(data[info.header_offset + 28:info.header_offset + 30], "little")
        start = info.header_offset + 30 + name_len + extra_len
        damaged[start + info.compress_size // 2] ^= 0xFF
        path = tmp_path / "disk.zip"
        path.write_bytes(bytes(damaged))
        report = bd.verify_bundle(path)
        assert not report.ok
        assert info.filename in report.problems[0], (info.filename, report.problems)


def test_missing_and_extra_files_are_named(built, tmp_path):
    result = build(built, tmp_path)
    missing = tmp_path / "missing.zip"
    missing.write_bytes(result.path.read_bytes())
    rewrite(missing, lambda m: m.pop("replay.json"))
    report = bd.verify_bundle(missing)
    assert not report.ok and report.problems == ["replay.json: listed in MANIFEST.json but missing from the bundle"]

    extra = tmp_path / "extra.zip"
    extra.write_bytes(result.path.read_bytes())
    rewrite(extra, lambda m: m.update({"model/notes.txt": b"hello"}))
    report = bd.verify_bundle(extra)
    assert not report.ok and report.problems == ["model/notes.txt: extra file not listed in MANIFEST.json"]


def test_replay_mismatch_names_the_recipe(built, tmp_path):
    result = build(built, tmp_path)
    bad = tmp_path / "replay.zip"
    bad.write_bytes(result.path.read_bytes())
    recipe_id = built[1]["recipes"][0]["recipe_id"]

    def tamper(members):
        replay = json.loads(members["replay.json"])
        replay["recipes"][0]["expected"]["energy_kwh"]["value"] += 0.5
        members["replay.json"] = bd.json_bytes(replay)
        del members["MANIFEST.json"]
        members["MANIFEST.json"] = bd.json_bytes(bd.manifest_for(members))  # a consistent manifest: only replay catches it

    rewrite(bad, tamper)
    report = bd.verify_bundle(bad)
    assert not report.ok
    assert report.problems[0].startswith(f"replay recipe {recipe_id}: energy_kwh value")


def test_renamed_bundle_and_sidecar_mismatch(built, tmp_path):
    result = build(built, tmp_path)
    other = result.path.with_name("rexai-v3-000000000000.zip")
    other.write_bytes(result.path.read_bytes())
    report = bd.verify_bundle(other)
    assert not report.ok and "does not match the sha256 in its name" in report.problems[0]
    sidecar = result.path.with_name(result.path.name + ".sha256")
    sidecar.write_text("0" * 64 + "\n")
    assert "sidecar" in bd.verify_bundle(result.path).problems[0]


def test_not_a_zip(tmp_path):
    path = tmp_path / "junk.zip"
    path.write_bytes(b"not a zip")
    assert bd.verify_bundle(path).problems[0].startswith("not a ZIP file")


def seal_in_fresh_root(root: Path, model_dir: Path, gold, seconds: float, monkeypatch) -> bd.BundleResult:
    """Register the model as v1 in a fresh data root (through the real training tracker, which records
    timings, run ids and artefact URIs under that root) and seal v1 there."""
    from rexai_assets import settings
    from rexai_assets.models.config import models_config
    from rexai_assets.models.ensemble import TrainedEnsemble
    from rexai_assets.models.tracking import track_and_register
    from rexai_assets.paths import layout
    from rexai_assets.resources import build_resources

    monkeypatch.setenv("REXAI_DATA_ROOT", str(root))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)  # mlflow.set_tracking_uri exports the previous root's
    settings.clear_cache()
    mlflow = build_resources()["mlflow"]
    ensemble = TrainedEnsemble.load(model_dir)
    ensemble.metadata.update(train_seconds={"forest": seconds}, training_seconds_total=seconds)
    record = track_and_register(ensemble, mlflow, layout().models, models_config(), dagster_run_id=f"run-{seconds}")
    assert record.version == "1" and str(root) in record.artifact_uri
    cfg = bd.BundleSettings(version="1", replay=bd.ReplaySettings(golden_rows=6, observation_rows=6))
    return bd.seal(mlflow, gold, layout().ensure().bundles, cfg=cfg)


def test_one_version_sealed_in_two_data_roots_gives_the_same_bytes(built, tmp_path, monkeypatch):
    model_dir = built[0]
    tables = load_raw_tables(SHIPPED_RAW)
    gold = small_gold(tables, size=400, raw_dir=SHIPPED_RAW)
    first = seal_in_fresh_root(tmp_path / "root_a", model_dir, gold, 1.5, monkeypatch)
    second = seal_in_fresh_root(tmp_path / "root_b", model_dir, gold, 2.5, monkeypatch)
    assert first.path.parent != second.path.parent
    assert first.path.read_bytes() == second.path.read_bytes() and first.path.name == second.path.name
    assert bd.verify_bundle(second.path).ok
    with zipfile.ZipFile(second.path) as archive:
        text = b"".join(archive.read(n) for n in archive.namelist() if n.endswith(".json")).decode()
    assert "root_b" not in text and "train_seconds" not in text and "run_id" not in text
    provenance = json.loads(second.path.with_name(second.path.name + bd.PROVENANCE_SUFFIX).read_text())
    assert provenance["train_seconds"] == {"forest": 2.5} and "root_b" in provenance["artifact_uri"]
