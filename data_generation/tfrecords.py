"""Sharded TFRecord storage of galaxy stamps: encoding, shard writer and readers.

One data set is a folder of ``shard-XXXXX-of-NNNNN.tfrecord`` files described by a
``manifest.json`` (see :mod:`data_generation.manifest`). Every record is a
``tf.train.Example`` holding exactly the fields of
:func:`data_generation.schema.all_fields` for the data set kind:

===========  =========================================  ==============================
schema type  stored as                                  parsed as
===========  =========================================  ==============================
image        ``BytesList``: raw little-endian float32   float32 tensor ``(S, S)``,
             bytes of the ``(S, S)`` stamp, row-major   uJy/pixel
``float64``  ``BytesList``: 8 raw little-endian bytes   float64 scalar tensor
``int64``    ``Int64List``                              int64 scalar tensor
===========  =========================================  ==============================

Raw bytes make the round trip bit-exact (``FloatList`` would round truth to
float32). Records are not compressed: noisy images do not compress.

Read a data set with :func:`read_dataset` (a :class:`tf.data.Dataset` for training)
or, for small sets, :func:`read_numpy` (numpy arrays in memory).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from data_generation.io_utils import atomic_path, sha256_file
from data_generation.manifest import (
    Manifest,
    ShardRecord,
    load_manifest,
    require_complete,
)
from data_generation.schema import Field, all_fields, check_kind, image_fields

log = logging.getLogger(__name__)

#: Number of shards read at once when ``num_parallel_reads`` is ``tf.data.AUTOTUNE``.
#: Fixed (not the machine's core count) so that the record order is the same everywhere.
AUTOTUNE_PARALLEL_READS = 8

_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1


# --------------------------------------------------------------------------- fields


def _image_names(kind: str) -> frozenset[str]:
    return frozenset(f.name for f in image_fields(kind))


def resolve_fields(kind: str, fields: str | Iterable[str] | None = None) -> tuple[Field, ...]:
    """Schema fields of ``kind`` selected by name.

    Parameters
    ----------
    kind : {"isolated", "blended"}
    fields : str or iterable of str, optional
        Field names; all fields of the kind (images first, then truth) when None.
        Duplicates are dropped, the given order is kept.

    Returns
    -------
    tuple of Field

    Raises
    ------
    ValueError
        Naming an unknown field and listing the valid ones, or if ``fields`` is empty.
    """
    schema = all_fields(kind)
    if fields is None:
        return schema
    if isinstance(fields, str):
        fields = (fields,)
    by_name = {f.name: f for f in schema}
    selected: dict[str, Field] = {}
    for name in fields:
        if name not in by_name:
            raise ValueError(
                f"unknown field {name!r} for a {kind!r} data set: valid fields are "
                f"{', '.join(by_name)}"
            )
        selected.setdefault(name, by_name[name])
    if not selected:
        raise ValueError("fields is empty: give at least one field name, or None for all")
    return tuple(selected.values())


# --------------------------------------------------------------------------- encoding


def _bytes_feature(data: bytes) -> tf.train.Feature:
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[data]))


def _encode_image(name: str, value: Any, stamp_size: int) -> tf.train.Feature:
    arr = np.asarray(value)
    if arr.shape != (stamp_size, stamp_size):
        raise ValueError(
            f"field {name!r} has shape {arr.shape}, expected {(stamp_size, stamp_size)}"
        )
    if arr.dtype.kind != "f" or arr.dtype.itemsize != 4:
        raise ValueError(
            f"field {name!r} has dtype {arr.dtype}, expected float32 (uJy/pixel); "
            "cast it explicitly if the loss of precision is intended"
        )
    return _bytes_feature(arr.astype("<f4", copy=False).tobytes(order="C"))


def _scalar(name: str, value: Any) -> np.ndarray:
    if isinstance(value, bool | np.bool_):
        raise ValueError(f"field {name!r} is a boolean ({value!r}), expected a number")
    arr = np.asarray(value)
    if arr.shape != ():
        raise ValueError(f"field {name!r} has shape {arr.shape}, expected a scalar")
    return arr


def _encode_float64(name: str, value: Any) -> tf.train.Feature:
    arr = _scalar(name, value)
    if arr.dtype.kind == "f" and arr.dtype.itemsize <= 8:
        as64 = arr.astype(np.float64)
    elif arr.dtype.kind in "iu":
        as64 = arr.astype(np.float64)
        if int(as64) != int(arr):
            raise ValueError(f"field {name!r}: integer {int(arr)} is not exact in float64")
    else:
        raise ValueError(f"field {name!r} has dtype {arr.dtype}, expected float64")
    return _bytes_feature(as64.astype("<f8").tobytes())


def _encode_int64(name: str, value: Any) -> tf.train.Feature:
    if isinstance(value, int) and not isinstance(value, bool):
        number = value  # a Python int may exceed what np.asarray turns into int64
    else:
        arr = _scalar(name, value)
        if arr.dtype.kind not in "iu":
            raise ValueError(f"field {name!r} has dtype {arr.dtype}, expected int64")
        number = int(arr)
    if not _INT64_MIN <= number <= _INT64_MAX:
        raise ValueError(f"field {name!r}: {number} does not fit in int64")
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[number]))


def serialize_example(example: Mapping[str, Any], kind: str, stamp_size: int) -> bytes:
    """Encode one example as a serialized ``tf.train.Example``.

    Parameters
    ----------
    example : mapping of str to array or scalar
        Exactly the fields of ``schema.all_fields(kind)``: images as float32 arrays
        of shape ``(stamp_size, stamp_size)`` in uJy/pixel; float64 truth as real
        scalars (fluxes in uJy, radii in arcsec, angles in deg, ...); int64 truth
        as integer scalars.
    kind : {"isolated", "blended"}
    stamp_size : int
        Side of the stamps in pixels.

    Returns
    -------
    bytes

    Raises
    ------
    ValueError
        On an unknown kind, a missing or extra field, or a value of the wrong shape
        or dtype; the message names the field.
    """
    check_kind(kind)
    schema = all_fields(kind)
    expected = [f.name for f in schema]
    missing = [name for name in expected if name not in example]
    if missing:
        raise ValueError(
            f"example for a {kind!r} data set is missing field(s) "
            f"{', '.join(repr(m) for m in missing)}"
        )
    extra = sorted(set(example) - set(expected))
    if extra:
        raise ValueError(
            f"example has field(s) {', '.join(repr(e) for e in extra)} that are not in "
            f"the {kind!r} schema"
        )
    images = _image_names(kind)
    features: dict[str, tf.train.Feature] = {}
    for f in schema:
        value = example[f.name]
        if f.name in images:
            features[f.name] = _encode_image(f.name, value, stamp_size)
        elif f.dtype == "float64":
            features[f.name] = _encode_float64(f.name, value)
        elif f.dtype == "int64":
            features[f.name] = _encode_int64(f.name, value)
        else:  # pragma: no cover - guards against a schema change
            raise ValueError(f"field {f.name!r}: unsupported schema dtype {f.dtype!r}")
    proto = tf.train.Example(features=tf.train.Features(feature=features))
    return proto.SerializeToString()


def _feature_spec(kind: str, selected: Sequence[Field]) -> dict[str, tf.io.FixedLenFeature]:
    images = _image_names(kind)
    spec = {}
    for f in selected:
        if f.name in images or f.dtype == "float64":
            spec[f.name] = tf.io.FixedLenFeature([], tf.string)
        else:
            spec[f.name] = tf.io.FixedLenFeature([], tf.int64)
    return spec


def _decode(
    parsed: Mapping[str, tf.Tensor], kind: str, stamp_size: int, selected: Sequence[Field]
) -> dict[str, tf.Tensor]:
    images = _image_names(kind)
    out: dict[str, tf.Tensor] = {}
    for f in selected:
        raw = parsed[f.name]
        if f.name in images:
            flat = tf.io.decode_raw(raw, tf.float32, little_endian=True)
            out[f.name] = tf.reshape(flat, [stamp_size, stamp_size])
        elif f.dtype == "float64":
            flat = tf.io.decode_raw(raw, tf.float64, little_endian=True)
            out[f.name] = tf.reshape(flat, [])
        else:
            out[f.name] = raw
    return out


def parse_example(
    serialized: tf.Tensor | bytes,
    kind: str,
    stamp_size: int,
    fields: str | Iterable[str] | None = None,
) -> dict[str, tf.Tensor]:
    """Decode one serialized example; usable inside ``tf.data.Dataset.map``.

    Parameters
    ----------
    serialized : scalar string tensor or bytes
        Output of :func:`serialize_example`.
    kind : {"isolated", "blended"}
    stamp_size : int
        Side of the stamps in pixels.
    fields : str or iterable of str, optional
        Fields to decode (all by default); the others are not parsed at all.

    Returns
    -------
    dict of str to tf.Tensor
        Images as float32 ``(stamp_size, stamp_size)`` in uJy/pixel, float64 truth
        as float64 scalars, int64 truth as int64 scalars.

    Raises
    ------
    ValueError
        On an unknown kind or field name.
    """
    check_kind(kind)
    selected = resolve_fields(kind, fields)
    parsed = tf.io.parse_single_example(serialized, _feature_spec(kind, selected))
    return _decode(parsed, kind, int(stamp_size), selected)


# --------------------------------------------------------------------------- writer


class ShardWriter:
    """Write one shard file atomically; use as a context manager.

    Records go to a temporary file next to ``path`` (see
    :func:`data_generation.io_utils.atomic_path`), renamed onto ``path`` only when
    the ``with`` block exits without an exception; otherwise the temporary file is
    removed and ``path`` is left untouched.

    Parameters
    ----------
    path : path-like
        Final shard path, normally ``folder / manifest.shard_filename(i, n)``.
    kind : {"isolated", "blended"}
    stamp_size : int
        Side of the stamps in pixels.

    Attributes
    ----------
    n_examples : int
        Examples written so far.
    sha256 : str or None
        Hex SHA-256 of the final file once the block exited successfully, else None.
    n_bytes : int or None
        Size of the final file in bytes, same condition.

    Examples
    --------
    >>> with ShardWriter(folder / shard_filename(0, 4), "isolated", 64) as writer:
    ...     for example in examples:
    ...         writer.write(example)
    >>> record = writer.record(index=0, seed=shard_seed, catalogue_rows=[0, 1000])
    """

    def __init__(self, path: str | os.PathLike, kind: str, stamp_size: int) -> None:
        check_kind(kind)
        self.path = Path(path)
        self.kind = kind
        self.stamp_size = int(stamp_size)
        self.n_examples = 0
        self.sha256: str | None = None
        self.n_bytes: int | None = None
        self._stack: contextlib.ExitStack | None = None
        self._writer: tf.io.TFRecordWriter | None = None
        self._used = False

    def __enter__(self) -> ShardWriter:
        if self._used:
            raise RuntimeError(f"ShardWriter for {self.path} can only be used once")
        self._used = True
        with contextlib.ExitStack() as stack:
            tmp = stack.enter_context(atomic_path(self.path))
            writer = tf.io.TFRecordWriter(str(tmp))
            stack.callback(writer.close)  # runs before atomic_path renames or removes
            self._stack = stack.pop_all()
        self._writer = writer
        return self

    def write(self, example: Mapping[str, Any]) -> None:
        """Append one example (see :func:`serialize_example` for its layout).

        Raises
        ------
        ValueError
            If the example does not match the schema (field named, with the
            shard name and the example's position).
        RuntimeError
            Outside the ``with`` block.
        """
        if self._writer is None:
            raise RuntimeError(f"ShardWriter for {self.path} is not open: use it in a with block")
        try:
            data = serialize_example(example, self.kind, self.stamp_size)
        except ValueError as err:
            raise ValueError(f"{self.path.name}, example {self.n_examples}: {err}") from err
        self._writer.write(data)
        self.n_examples += 1

    def __exit__(self, exc_type, exc, tb) -> bool:
        stack, self._stack, self._writer = self._stack, None, None
        if stack is not None:
            stack.__exit__(exc_type, exc, tb)  # close, then rename (success) or remove
        if exc_type is None:
            self.sha256 = sha256_file(self.path)
            self.n_bytes = self.path.stat().st_size
            log.info("wrote %s: %d examples, %d bytes", self.path, self.n_examples, self.n_bytes)
        else:
            log.warning("discarded %s after an error (%s)", self.path.name, exc_type.__name__)
        return False

    def record(
        self, index: int, seed: int, catalogue_rows: Sequence[int] | None = None
    ) -> ShardRecord:
        """The manifest entry for this shard, once it has been written.

        Parameters
        ----------
        index : int
            Zero-based shard index.
        seed : int
            Seed of the random generator that produced the shard.
        catalogue_rows : sequence of two int, optional
            ``[start, stop)`` of the catalogue rows used.

        Raises
        ------
        RuntimeError
            If the shard has not been written successfully.
        """
        if self.sha256 is None:
            raise RuntimeError(f"{self.path} has not been written successfully")
        return ShardRecord(
            file=self.path.name,
            index=int(index),
            n_examples=self.n_examples,
            sha256=self.sha256,
            seed=int(seed),
            catalogue_rows=None if catalogue_rows is None else [int(r) for r in catalogue_rows],
            n_bytes=self.n_bytes,
        )


# --------------------------------------------------------------------------- readers


def dataset_info(folder: str | os.PathLike) -> Manifest:
    """The manifest of a data set folder (kind, stamp size, counts, shards, ...)."""
    return load_manifest(folder)


def _select_shards(manifest: Manifest, shards: Iterable[int] | None) -> list[ShardRecord]:
    ordered = sorted(manifest.shards, key=lambda s: s.index)
    if shards is None:
        selected = ordered
    else:
        wanted = {int(i) for i in shards}
        known = {s.index for s in ordered}
        unknown = sorted(wanted - known)
        if unknown:
            raise ValueError(
                f"shard index(es) {', '.join(map(str, unknown))} not in the data set "
                f"(indices: {', '.join(map(str, sorted(known)))})"
            )
        selected = [s for s in ordered if s.index in wanted]
    if not selected:
        raise ValueError("no shards selected: the data set has none or `shards` is empty")
    return selected


def _cycle_length(num_parallel_reads: int | None, n_files: int) -> int:
    if num_parallel_reads is None:
        return 1
    if num_parallel_reads == tf.data.AUTOTUNE:
        return max(1, min(n_files, AUTOTUNE_PARALLEL_READS))
    if num_parallel_reads < 1:
        raise ValueError(
            f"num_parallel_reads must be positive, None or tf.data.AUTOTUNE, "
            f"got {num_parallel_reads}"
        )
    return min(n_files, int(num_parallel_reads))


def read_dataset(
    folder: str | os.PathLike,
    fields: str | Iterable[str] | None = None,
    shuffle_shards: bool = False,
    seed: int | None = None,
    verify: bool = False,
    num_parallel_reads: int | None = tf.data.AUTOTUNE,
    shards: Iterable[int] | None = None,
    shard_field: str | None = None,
) -> tf.data.Dataset:
    """Stream a data set folder as a :class:`tf.data.Dataset` of dictionaries.

    Parameters
    ----------
    folder : path-like
        Data set folder (with ``manifest.json``).
    fields : str or iterable of str, optional
        Fields to return (all by default). Images are float32 ``(S, S)`` in
        uJy/pixel, truth float64 or int64 scalars in the units of
        :mod:`data_generation.schema`.
    shuffle_shards : bool
        Shuffle the order of the shard files, anew at each iteration (epoch).
        Examples are not shuffled within a shard: add ``.shuffle(buffer)``.
    seed : int, optional
        Seed of the shard shuffle; only used with ``shuffle_shards``.
    verify : bool
        Check the SHA-256 of every selected shard before reading (reads them all
        once). Existence and size are always checked.
    num_parallel_reads : int, None or tf.data.AUTOTUNE
        Number of shards read at once, their records interleaved one by one.
        ``tf.data.AUTOTUNE`` means :data:`AUTOTUNE_PARALLEL_READS` (a constant, so
        the order does not depend on the machine); None or 1 reads shard after
        shard.
    shards : iterable of int, optional
        Shard indices to read (e.g. all but one, held out for validation); all
        shards by default. Read in increasing index order unless shuffled.
    shard_field : str, optional
        Also return, under this name, the index of the shard each example comes
        from (int64 scalar), e.g. to look up what differs between the shards of a
        data set made by ``debvader-euclid combine``.

    Returns
    -------
    tf.data.Dataset
        Of ``dict[str, tf.Tensor]``, with known cardinality (the number of examples
        in the selected shards). Without ``shuffle_shards`` the order is fully
        determined by the shard selection and ``num_parallel_reads``.

    Raises
    ------
    FileNotFoundError
        If ``folder`` holds no manifest.
    ValueError
        On an unknown field or shard index, a schema version mismatch, or missing,
        truncated or (with ``verify``) corrupted shards.
    """
    folder = Path(folder)
    manifest = load_manifest(folder)
    selected_fields = resolve_fields(manifest.kind, fields)
    if shard_field is not None and shard_field in {f.name for f in all_fields(manifest.kind)}:
        raise ValueError(f"shard_field {shard_field!r} is the name of a field of the data set")
    selected = _select_shards(manifest, shards)
    indices = [s.index for s in selected]
    require_complete(folder, manifest, check_sha256=verify, shards=indices)
    n_examples = sum(s.n_examples for s in selected)
    log.info(
        "reading %d of %d shards (%d examples) of %s data set %s",
        len(selected),
        len(manifest.shards),
        n_examples,
        manifest.kind,
        folder,
    )

    files = tf.data.Dataset.from_tensor_slices(
        ([str(folder / s.file) for s in selected], [int(s.index) for s in selected])
    )
    if shuffle_shards:
        files = files.shuffle(len(selected), seed=seed, reshuffle_each_iteration=True)

    def shard_records(path: tf.Tensor, index: tf.Tensor) -> tf.data.Dataset:
        return tf.data.TFRecordDataset(path).map(lambda record: (record, index))

    cycle = _cycle_length(num_parallel_reads, len(selected))
    if cycle > 1:
        records = files.interleave(
            shard_records,
            cycle_length=cycle,
            block_length=1,
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=True,  # order depends on the shard list and cycle only
        )
    else:
        records = files.interleave(shard_records, cycle_length=1, block_length=1)
    kind, stamp_size = manifest.kind, manifest.stamp_size
    spec = _feature_spec(kind, selected_fields)

    def parse(serialized: tf.Tensor, index: tf.Tensor) -> dict[str, tf.Tensor]:
        parsed = tf.io.parse_single_example(serialized, spec)
        example = _decode(parsed, kind, stamp_size, selected_fields)
        if shard_field is not None:
            example[shard_field] = tf.cast(index, tf.int64)
        return example

    dataset = records.map(parse, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return dataset.apply(tf.data.experimental.assert_cardinality(n_examples))


def read_numpy(
    folder: str | os.PathLike,
    fields: str | Iterable[str] | None = None,
    max_examples: int | None = None,
    shards: Iterable[int] | None = None,
) -> dict[str, np.ndarray]:
    """Load a *small* data set (or its first examples) into memory as numpy arrays.

    Everything requested is held in memory at once: a blended set of 64x64 stamps
    takes 64 kiB per example, so use :func:`read_dataset` for training-size sets.
    The order is that of :func:`read_dataset` with its defaults.

    Parameters
    ----------
    folder : path-like
        Data set folder (with ``manifest.json``).
    fields : str or iterable of str, optional
        Fields to load (all by default).
    max_examples : int, optional
        Load at most this many examples.
    shards : iterable of int, optional
        Shard indices to read; all by default.

    Returns
    -------
    dict of str to numpy.ndarray
        Images as float32 ``(N, S, S)`` in uJy/pixel, truth as ``(N,)`` float64 or
        int64 arrays.
    """
    folder = Path(folder)
    manifest = load_manifest(folder)
    selected_fields = resolve_fields(manifest.kind, fields)
    selected = _select_shards(manifest, shards)
    n = sum(s.n_examples for s in selected)
    if max_examples is not None:
        if max_examples < 0:
            raise ValueError(f"max_examples must be non-negative, got {max_examples}")
        n = min(n, int(max_examples))
    size = manifest.stamp_size
    images = _image_names(manifest.kind)
    out: dict[str, np.ndarray] = {}
    for f in selected_fields:
        if f.name in images:
            out[f.name] = np.empty((n, size, size), dtype=np.float32)
        else:
            out[f.name] = np.empty((n,), dtype=np.dtype(f.dtype))
    n_bytes = sum(a.nbytes for a in out.values())
    log.info("loading %d examples (%.1f MiB) from %s", n, n_bytes / 2**20, folder)
    if n == 0:
        return out

    dataset = read_dataset(
        folder, fields=[f.name for f in selected_fields], shards=[s.index for s in selected]
    )
    start = 0
    for batch in dataset.take(n).batch(256).as_numpy_iterator():
        stop = start + len(next(iter(batch.values())))
        for name, values in batch.items():
            out[name][start:stop] = values
        start = stop
    if start != n:
        raise ValueError(f"{folder}: read {start} examples, the manifest promises {n}")
    return out
