"""Tests of data_generation.manifest (no TensorFlow needed)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from data_generation import manifest as mf
from data_generation.io_utils import sha256_file
from data_generation.schema import SCHEMA_VERSION


def _write_shards(folder: Path, sizes: list[int]) -> list[mf.ShardRecord]:
    """Fake shards: manifest code only cares about bytes, not TFRecord content."""
    records = []
    for index, size in enumerate(sizes):
        name = mf.shard_filename(index, len(sizes))
        path = folder / name
        path.write_bytes(bytes(range(256)) * size)
        records.append(
            mf.ShardRecord(
                file=name,
                index=index,
                n_examples=10 * (index + 1),
                sha256=sha256_file(path),
                seed=1000 + index,
                catalogue_rows=[100 * index, 100 * (index + 1)],
                n_bytes=path.stat().st_size,
            )
        )
    return records


@pytest.fixture
def dataset(tmp_path: Path) -> tuple[Path, mf.Manifest]:
    manifest = mf.Manifest(
        kind="blended",
        schema_version=SCHEMA_VERSION,
        stamp_size=64,
        seed=42,
        config={"noise_sigma_uJy": 0.05, "n_per_shard": 10, "bands": ["vis"]},
        shards=_write_shards(tmp_path, [1, 2, 3]),
    )
    mf.save_manifest(tmp_path, manifest)
    return tmp_path, manifest


def test_manifest_module_does_not_import_tensorflow() -> None:
    code = "import sys, data_generation.manifest; assert 'tensorflow' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[2])


def test_shard_filename() -> None:
    assert mf.shard_filename(3, 10) == "shard-00003-of-00010.tfrecord"
    assert mf.shard_filename(0, 1) == "shard-00000-of-00001.tfrecord"
    with pytest.raises(ValueError, match="outside"):
        mf.shard_filename(10, 10)
    with pytest.raises(ValueError, match="at least 1"):
        mf.shard_filename(0, 0)


def test_save_load_round_trip(dataset: tuple[Path, mf.Manifest]) -> None:
    folder, manifest = dataset
    loaded = mf.load_manifest(folder)
    assert loaded == manifest
    assert loaded.counts == {"n_examples": 60, "n_shards": 3}
    payload = json.loads((folder / mf.MANIFEST_NAME).read_text())
    assert payload["counts"] == {"n_examples": 60, "n_shards": 3}
    assert set(payload["software"]) >= {"data_generation", "galsim", "numpy", "tensorflow"}
    assert payload["shards"][1]["catalogue_rows"] == [100, 200]
    assert mf.Manifest.from_dict(manifest.to_dict()) == manifest
    assert not list(folder.glob("*.tmp"))


def test_config_numpy_values_are_converted(tmp_path: Path) -> None:
    config = {"sigma": np.float64(0.1), "n": np.int64(3), "shape": (2, 3), "arr": np.arange(2)}
    manifest = mf.Manifest("isolated", SCHEMA_VERSION, 32, 1, config, [])
    mf.save_manifest(tmp_path, manifest)
    loaded = mf.load_manifest(tmp_path)
    assert loaded.config == {"sigma": 0.1, "n": 3, "shape": [2, 3], "arr": [0, 1]}


def test_config_not_json_names_key_and_writes_nothing(tmp_path: Path) -> None:
    manifest = mf.Manifest("isolated", SCHEMA_VERSION, 32, 1, {"psf": {"model": object()}}, [])
    with pytest.raises(TypeError, match=r"config\.psf\.model"):
        mf.save_manifest(tmp_path, manifest)
    assert list(tmp_path.iterdir()) == []


def test_load_missing_manifest(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="not a data set written by `debvader-euclid"):
        mf.load_manifest(tmp_path)


@pytest.mark.parametrize(("version", "word"), [(SCHEMA_VERSION + 1, "newer"), (0, "older")])
def test_schema_version_mismatch(
    dataset: tuple[Path, mf.Manifest], version: int, word: str
) -> None:
    folder, _ = dataset
    path = folder / mf.MANIFEST_NAME
    payload = json.loads(path.read_text())
    payload["schema_version"] = version
    path.write_text(json.dumps(payload))
    with pytest.raises(ValueError, match=word) as info:
        mf.load_manifest(folder)
    assert f"schema version {version}" in str(info.value)
    assert f"schema version {SCHEMA_VERSION}" in str(info.value)


def test_inconsistent_counts_rejected(dataset: tuple[Path, mf.Manifest]) -> None:
    folder, _ = dataset
    path = folder / mf.MANIFEST_NAME
    payload = json.loads(path.read_text())
    payload["counts"]["n_examples"] = 59
    path.write_text(json.dumps(payload))
    with pytest.raises(ValueError, match="counts"):
        mf.load_manifest(folder)


def test_invalid_json_and_missing_keys(tmp_path: Path) -> None:
    (tmp_path / mf.MANIFEST_NAME).write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        mf.load_manifest(tmp_path)
    (tmp_path / mf.MANIFEST_NAME).write_text(json.dumps({"schema_version": SCHEMA_VERSION}))
    with pytest.raises(ValueError, match="missing key"):
        mf.load_manifest(tmp_path)


def test_manifest_sha256(dataset: tuple[Path, mf.Manifest]) -> None:
    folder, manifest = dataset
    digest = mf.manifest_sha256(folder)
    assert digest == sha256_file(folder / mf.MANIFEST_NAME)
    manifest.seed = 43
    mf.save_manifest(folder, manifest)
    assert mf.manifest_sha256(folder) != digest


def test_content_sha256_ignores_when_and_where_a_data_set_was_written(
    dataset: tuple[Path, mf.Manifest],
) -> None:
    folder, manifest = dataset
    digest = manifest.content_sha256()
    assert mf.load_manifest(folder).content_sha256() == digest
    file_digest = mf.manifest_sha256(folder)
    # regenerated identical data: another day, another folder, other software versions
    manifest.created_utc = "2031-01-01T00:00:00+00:00"
    manifest.software = {"data_generation": "9.9"}
    manifest.config = {**manifest.config, "catalogue": {"path": "/elsewhere/catalogue.fits"}}
    manifest.shards = list(reversed(manifest.shards))
    mf.save_manifest(folder, manifest)
    assert mf.manifest_sha256(folder) != file_digest
    assert mf.load_manifest(folder).content_sha256() == digest


@pytest.mark.parametrize(
    "change",
    ["shard sha256", "shard examples", "kind", "stamp size", "dropped shard"],
)
def test_content_sha256_changes_with_the_content(
    dataset: tuple[Path, mf.Manifest], change: str
) -> None:
    _, manifest = dataset
    digest = manifest.content_sha256()
    first = manifest.shards[0]
    if change == "shard sha256":
        first.sha256 = "0" * 64
    elif change == "shard examples":
        first.n_examples += 1
    elif change == "kind":
        manifest.kind = "isolated"
    elif change == "stamp size":
        manifest.stamp_size = 32
    else:
        manifest.shards = manifest.shards[1:]
    assert manifest.content_sha256() != digest


def test_verify_clean(dataset: tuple[Path, mf.Manifest]) -> None:
    folder, manifest = dataset
    assert mf.verify_shards(folder, manifest) == []
    mf.require_complete(folder, manifest)


def test_verify_detects_corrupted_byte(dataset: tuple[Path, mf.Manifest]) -> None:
    folder, manifest = dataset
    path = folder / manifest.shards[1].file
    data = bytearray(path.read_bytes())
    data[100] ^= 0x01
    path.write_bytes(bytes(data))
    problems = mf.verify_shards(folder, manifest)
    assert len(problems) == 1
    assert manifest.shards[1].file in problems[0]
    assert "sha256" in problems[0]
    # same size: only the hash can see it
    assert mf.verify_shards(folder, manifest, check_sha256=False) == []
    # a subset that excludes the corrupted shard is clean
    assert mf.verify_shards(folder, manifest, shards=[0, 2]) == []
    with pytest.raises(ValueError, match="corrupted") as info:
        mf.require_complete(folder, manifest)
    assert manifest.shards[1].file in str(info.value)


def test_verify_detects_missing_and_truncated(dataset: tuple[Path, mf.Manifest]) -> None:
    folder, manifest = dataset
    (folder / manifest.shards[0].file).unlink()
    truncated = folder / manifest.shards[2].file
    truncated.write_bytes(truncated.read_bytes()[:-1])
    problems = mf.verify_shards(folder, manifest, check_sha256=False)
    assert problems == [
        f"{manifest.shards[0].file}: missing",
        f"{manifest.shards[2].file}: size {3 * 256 - 1} bytes, manifest says {3 * 256} bytes",
    ]


def test_verify_duplicate_and_unknown_indices(dataset: tuple[Path, mf.Manifest]) -> None:
    folder, manifest = dataset
    manifest.shards[2].index = 1
    problems = mf.verify_shards(folder, manifest, check_sha256=False, shards=[7])
    assert any("index 1 twice" in p for p in problems)
    assert any("7" in p and "not in the manifest" in p for p in problems)


def test_shard_record_validation() -> None:
    with pytest.raises(ValueError, match="plain file name"):
        mf.ShardRecord("../x.tfrecord", 0, 1, "0" * 64, 0)
    with pytest.raises(ValueError, match="catalogue_rows"):
        mf.ShardRecord("x.tfrecord", 0, 1, "0" * 64, 0, catalogue_rows=[5, 2])
    with pytest.raises(ValueError, match="unknown data set kind"):
        mf.Manifest("single", SCHEMA_VERSION, 64, 0, {}, [])


def test_shard_lists_parse_and_print() -> None:
    assert mf.parse_shard_list("67-69,3, 3") == (3, 67, 68, 69)
    assert mf.shard_ranges((67, 68, 69)) == "67-69"
    assert mf.shard_ranges((5,)) == "5"
    assert mf.shard_ranges((0, 2)) == "0,2"
    assert mf.shard_ranges(()) == "(none)"
    for bad in ("", "a", "5-3", "-1"):
        with pytest.raises(ValueError, match="such as 67-74"):
            mf.parse_shard_list(bad)
