"""Tests of data_generation.tfrecords: encoding, ShardWriter and readers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from data_generation import tfrecords as tfr
from data_generation.io_utils import sha256_file
from data_generation.manifest import (
    MANIFEST_NAME,
    Manifest,
    load_manifest,
    save_manifest,
    shard_filename,
)
from data_generation.schema import SCHEMA_VERSION, all_fields, image_fields

S = 8  # small stamps keep the tests fast

#: Awkward float64 values that must survive bit-exactly.
EXTREMES = [0.1 + 0.2, 1e-30, 1e30, -1e300, -0.0, 5e-324, -3.75, np.inf, 1.0 / 3.0]


def make_example(kind: str, rng: np.random.Generator, example_id: int = 0) -> dict:
    example: dict = {}
    for f in image_fields(kind):
        example[f.name] = rng.normal(0.0, 1.0, (S, S)).astype(np.float32)
    images = {f.name for f in image_fields(kind)}
    float_index = 0
    for f in all_fields(kind):
        if f.name in images:
            continue
        if f.dtype == "int64":
            example[f.name] = example_id
        else:
            example[f.name] = EXTREMES[float_index % len(EXTREMES)] * (1 + example_id)
            float_index += 1
    return example


def assert_bit_equal(actual, expected) -> None:
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.dtype == expected.dtype
    assert actual.shape == expected.shape
    assert actual.tobytes() == expected.tobytes()


@pytest.mark.parametrize("kind", ["isolated", "blended"])
def test_round_trip_bit_exact(kind: str) -> None:
    rng = np.random.default_rng(1)
    example = make_example(kind, rng)
    first = image_fields(kind)[0].name
    example[first][0, :4] = [np.float32(1e-45), -0.0, np.float32(3.4e38), -np.float32(1e-30)]
    int_fields = [f.name for f in all_fields(kind) if f.dtype == "int64"]
    example[int_fields[0]] = 2**63 - 1
    if len(int_fields) > 1:
        example[int_fields[1]] = np.int64(-(2**63))

    parsed = tfr.parse_example(tfr.serialize_example(example, kind, S), kind, S)
    assert list(parsed) == [f.name for f in all_fields(kind)]
    for f in all_fields(kind):
        value = parsed[f.name].numpy()
        if f.dtype == "float32":
            assert parsed[f.name].shape == (S, S)
            assert_bit_equal(value, example[f.name])
        elif f.dtype == "float64":
            assert_bit_equal(value, np.float64(example[f.name]))
        else:
            assert_bit_equal(value, np.int64(example[f.name]))
    assert parsed["central_redshift"].numpy() == 0.1 + 0.2  # not 0.30000001192092896


def test_parse_fields_subset() -> None:
    example = make_example("isolated", np.random.default_rng(2), example_id=5)
    data = tfr.serialize_example(example, "isolated", S)
    parsed = tfr.parse_example(data, "isolated", S, fields=["central_id", "central_noisy"])
    assert list(parsed) == ["central_id", "central_noisy"]
    assert parsed["central_id"].dtype == tf.int64
    assert int(parsed["central_id"]) == 5
    with pytest.raises(ValueError, match="unknown field 'neighbour_id'.*central_noisy"):
        tfr.parse_example(data, "isolated", S, fields=["neighbour_id"])
    # inside tf.data.map (graph mode)
    mapped = tf.data.Dataset.from_tensors(data).map(
        lambda s: tfr.parse_example(s, "isolated", S, fields="central_noiseless")
    )
    (element,) = list(mapped.as_numpy_iterator())
    assert_bit_equal(element["central_noiseless"], example["central_noiseless"])


@pytest.mark.parametrize(
    ("mutate", "kind", "message"),
    [
        (lambda e: e.pop("central_noiseless"), "isolated", "missing field.*'central_noiseless'"),
        (lambda e: e.update(extra_field=1.0), "isolated", "'extra_field'.*not in"),
        (
            lambda e: e.update(central_noiseless=np.zeros((4, 4), np.float32)),
            "isolated",
            r"field 'central_noiseless' has shape \(4, 4\), expected \(8, 8\)",
        ),
        (
            lambda e: e.update(central_noisy=np.zeros((S, S), np.float64)),
            "isolated",
            "field 'central_noisy' has dtype float64, expected float32",
        ),
        (
            lambda e: e.update(central_redshift=np.zeros(2)),
            "isolated",
            r"field 'central_redshift' has shape \(2,\), expected a scalar",
        ),
        (lambda e: e.update(central_id=3.0), "isolated", "field 'central_id'.*expected int64"),
        (lambda e: e.update(central_id=2**63), "isolated", "field 'central_id'.*int64"),
        (lambda e: e.update(central_disk_q=True), "isolated", "field 'central_disk_q'.*boolean"),
        (lambda e: None, "blended", "missing field.*'blend_noisy'"),
        (lambda e: None, "single", "unknown data set kind 'single'"),
    ],
)
def test_serialize_bad_input(mutate, kind: str, message: str) -> None:
    example = make_example("isolated", np.random.default_rng(3))
    mutate(example)
    with pytest.raises(ValueError, match=message):
        tfr.serialize_example(example, kind, S)


def test_blended_example_as_isolated_names_extra_fields() -> None:
    example = make_example("blended", np.random.default_rng(4))
    with pytest.raises(ValueError, match="'blend_noisy'.*not in the 'isolated' schema"):
        tfr.serialize_example(example, "isolated", S)


def test_shard_writer_success(tmp_path: Path) -> None:
    path = tmp_path / shard_filename(0, 1)
    rng = np.random.default_rng(5)
    with tfr.ShardWriter(path, "blended", S) as writer:
        for i in range(3):
            writer.write(make_example("blended", rng, i))
        assert not path.exists()  # only the temporary file exists until the block exits
    assert writer.n_examples == 3
    assert writer.sha256 == sha256_file(path)
    assert writer.n_bytes == path.stat().st_size
    assert [p.name for p in tmp_path.iterdir()] == [path.name]
    record = writer.record(index=0, seed=7, catalogue_rows=(0, 3))
    assert (record.file, record.n_examples, record.catalogue_rows) == (path.name, 3, [0, 3])
    assert sum(1 for _ in tf.data.TFRecordDataset(str(path))) == 3


def _fill(writer: tfr.ShardWriter, examples: list[dict], fail: bool = False) -> None:
    with writer:
        for example in examples:
            writer.write(example)
        if fail:
            raise RuntimeError("boom")


def test_shard_writer_error_leaves_nothing(tmp_path: Path) -> None:
    path = tmp_path / shard_filename(0, 1)
    rng = np.random.default_rng(6)
    writer = tfr.ShardWriter(path, "isolated", S)
    with pytest.raises(RuntimeError, match="boom"):
        _fill(writer, [make_example("isolated", rng)], fail=True)
    assert list(tmp_path.iterdir()) == []  # neither the shard nor a .tmp file
    assert writer.sha256 is None
    with pytest.raises(RuntimeError, match="not been written"):
        writer.record(0, 0)
    with pytest.raises(RuntimeError, match="only be used once"):
        _fill(writer, [])

    bad = make_example("isolated", rng)
    del bad["central_id"]
    writer = tfr.ShardWriter(path, "isolated", S)
    with pytest.raises(ValueError, match=r"example 1: .*'central_id'"):
        _fill(writer, [make_example("isolated", rng), bad])
    assert list(tmp_path.iterdir()) == []


def test_shard_writer_outside_with(tmp_path: Path) -> None:
    writer = tfr.ShardWriter(tmp_path / "x.tfrecord", "isolated", S)
    with pytest.raises(RuntimeError, match="with block"):
        writer.write(make_example("isolated", np.random.default_rng(7)))


# --------------------------------------------------------------------------- readers

SHARD_SIZES = [2, 3, 4]


def _ids(shard: int, n: int) -> list[int]:
    return [100 * shard + i for i in range(n)]


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("isolated_set")
    rng = np.random.default_rng(8)
    records = []
    for index, size in enumerate(SHARD_SIZES):
        path = folder / shard_filename(index, len(SHARD_SIZES))
        with tfr.ShardWriter(path, "isolated", S) as writer:
            for example_id in _ids(index, size):
                writer.write(make_example("isolated", rng, example_id))
        records.append(writer.record(index, seed=index, catalogue_rows=[0, size]))
    manifest = Manifest("isolated", SCHEMA_VERSION, S, 8, {"test": True}, records)
    save_manifest(folder, manifest)
    return folder


def _read_ids(dataset: tf.data.Dataset) -> list[int]:
    return [int(x["central_id"]) for x in dataset.as_numpy_iterator()]


def test_read_dataset_order(dataset_dir: Path) -> None:
    sequential = tfr.read_dataset(dataset_dir, num_parallel_reads=None)
    assert _read_ids(sequential) == _ids(0, 2) + _ids(1, 3) + _ids(2, 4)
    interleaved = tfr.read_dataset(dataset_dir)
    assert int(interleaved.cardinality()) == sum(SHARD_SIZES)
    assert _read_ids(interleaved) == [0, 100, 200, 1, 101, 201, 102, 202, 203]
    assert _read_ids(interleaved) == _read_ids(tfr.read_dataset(dataset_dir))


def test_read_dataset_elements(dataset_dir: Path) -> None:
    element = next(iter(tfr.read_dataset(dataset_dir, verify=True)))
    assert set(element) == {f.name for f in all_fields("isolated")}
    assert element["central_noisy"].dtype == tf.float32
    assert element["central_noisy"].shape == (S, S)
    assert element["central_redshift"].dtype == tf.float64
    assert element["central_redshift"].shape == ()
    assert element["central_id"].dtype == tf.int64


def test_read_dataset_shard_subset_and_fields(dataset_dir: Path) -> None:
    dataset = tfr.read_dataset(
        dataset_dir, fields=["central_id", "central_noiseless"], shards=[2, 0]
    )
    assert int(dataset.cardinality()) == 6
    assert sorted(_read_ids(dataset)) == _ids(0, 2) + _ids(2, 4)
    assert set(dataset.element_spec) == {"central_id", "central_noiseless"}
    with pytest.raises(ValueError, match="shard index.*5.*indices: 0, 1, 2"):
        tfr.read_dataset(dataset_dir, shards=[0, 5])
    with pytest.raises(ValueError, match="unknown field 'blend_noisy'.*central_noiseless"):
        tfr.read_dataset(dataset_dir, fields=["blend_noisy"])


def test_read_dataset_shuffle_shards(dataset_dir: Path) -> None:
    first = _read_ids(tfr.read_dataset(dataset_dir, shuffle_shards=True, seed=3))
    again = _read_ids(tfr.read_dataset(dataset_dir, shuffle_shards=True, seed=3))
    assert first == again
    assert sorted(first) == _ids(0, 2) + _ids(1, 3) + _ids(2, 4)


def test_read_dataset_detects_problems(dataset_dir: Path, tmp_path: Path) -> None:
    for source in dataset_dir.iterdir():
        (tmp_path / source.name).write_bytes(source.read_bytes())
    manifest = load_manifest(tmp_path)
    corrupted = tmp_path / manifest.shards[1].file
    data = bytearray(corrupted.read_bytes())
    data[-10] ^= 0xFF
    corrupted.write_bytes(bytes(data))
    tfr.read_dataset(tmp_path)  # same size: only verify=True notices
    with pytest.raises(ValueError, match=f"{manifest.shards[1].file}: sha256"):
        tfr.read_dataset(tmp_path, verify=True)
    (tmp_path / manifest.shards[0].file).unlink()
    with pytest.raises(ValueError, match=f"{manifest.shards[0].file}: missing"):
        tfr.read_dataset(tmp_path)
    tfr.read_dataset(tmp_path, shards=[2])  # the remaining shard is fine
    (tmp_path / MANIFEST_NAME).unlink()
    with pytest.raises(FileNotFoundError, match="manifest.json"):
        tfr.read_dataset(tmp_path)


def test_read_numpy(dataset_dir: Path) -> None:
    arrays = tfr.read_numpy(dataset_dir)
    n = sum(SHARD_SIZES)
    assert arrays["central_noisy"].shape == (n, S, S)
    assert arrays["central_noisy"].dtype == np.float32
    assert arrays["central_redshift"].shape == (n,)
    assert arrays["central_redshift"].dtype == np.float64
    assert arrays["central_id"].dtype == np.int64
    assert list(arrays["central_id"]) == _read_ids(tfr.read_dataset(dataset_dir))
    # values are the ones written: regenerate the example of ID 101 (shard 1, second)
    rng = np.random.default_rng(8)
    expected = {}
    for index, size in enumerate(SHARD_SIZES):
        for example_id in _ids(index, size):
            expected[example_id] = make_example("isolated", rng, example_id)
    row = list(arrays["central_id"]).index(101)
    assert_bit_equal(arrays["central_noiseless"][row], expected[101]["central_noiseless"])
    assert_bit_equal(arrays["central_flux_uJy"][row], np.float64(expected[101]["central_flux_uJy"]))

    small = tfr.read_numpy(dataset_dir, fields="central_noiseless", max_examples=4, shards=[1])
    assert list(small) == ["central_noiseless"]
    assert small["central_noiseless"].shape == (3, S, S)
    assert tfr.read_numpy(dataset_dir, max_examples=0)["central_id"].shape == (0,)


def test_dataset_info(dataset_dir: Path) -> None:
    info = tfr.dataset_info(dataset_dir)
    assert info.kind == "isolated"
    assert info.counts == {"n_examples": sum(SHARD_SIZES), "n_shards": len(SHARD_SIZES)}
