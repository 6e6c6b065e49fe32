"""The JSON manifest that describes a sharded TFRecord data set.

A data set written by ``debvader-euclid generate`` is one folder::

    DIR/
        manifest.json
        shard-00000-of-00004.tfrecord
        shard-00001-of-00004.tfrecord
        ...

``manifest.json`` records the data set kind (``"isolated"`` or ``"blended"``, see
:mod:`data_generation.schema`), the schema version, the stamp size in pixels, the
master seed and generation configuration, one :class:`ShardRecord` per shard (file
name, number of examples, SHA-256, per-shard seed, catalogue slice) and the versions
of the software that wrote it. Two hashes identify a data set, and training,
evaluation and error calibration record both:

- :func:`manifest_sha256`, the SHA-256 of the manifest file: it pins the exact file,
  creation time, paths and software versions included;
- :meth:`Manifest.content_sha256` (``load_manifest(folder).content_sha256()``), over the
  kind, schema version, stamp size and every shard's index, example count and SHA-256
  only: the same for a data set regenerated with identical pixels and truth, on
  another day, in another folder.

This module deliberately does not import TensorFlow, so that code that only needs
to inspect or verify a data set stays light.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import os
import platform
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from data_generation.io_utils import sha256_file, write_json_atomic
from data_generation.schema import SCHEMA_VERSION, check_kind

log = logging.getLogger(__name__)

#: Name of the manifest file inside a data set folder.
MANIFEST_NAME = "manifest.json"

_NOT_INSTALLED = "not installed"


def shard_filename(index: int, n_shards: int) -> str:
    """File name of shard ``index`` out of ``n_shards``.

    Parameters
    ----------
    index : int
        Zero-based shard index, ``0 <= index < n_shards``.
    n_shards : int
        Total number of shards in the data set (at least 1).

    Returns
    -------
    str
        ``"shard-{index:05d}-of-{n_shards:05d}.tfrecord"``, e.g.
        ``"shard-00003-of-00010.tfrecord"``.

    Raises
    ------
    ValueError
        If ``n_shards < 1`` or ``index`` is outside ``[0, n_shards)``.
    """
    index, n_shards = int(index), int(n_shards)
    if n_shards < 1:
        raise ValueError(f"n_shards must be at least 1, got {n_shards}")
    if not 0 <= index < n_shards:
        raise ValueError(f"shard index {index} is outside [0, {n_shards})")
    return f"shard-{index:05d}-of-{n_shards:05d}.tfrecord"


def parse_shard_list(text: str) -> tuple[int, ...]:
    """Parse ``"0-49"``, ``"0,3,5"`` or a mix (``"0-2,9"``) into sorted shard indices.

    Raises
    ------
    ValueError
        If ``text`` is not such a list.
    """
    indices: list[int] = []
    try:
        for part in text.split(","):
            lo, sep, hi = part.strip().partition("-")
            first, last = int(lo), int(hi) if sep else int(lo)
            if first < 0 or last < first:
                raise ValueError
            indices.extend(range(first, last + 1))
    except ValueError:
        raise ValueError(
            f"shards must be indices or ranges such as 67-74 or 0,3,5; got {text!r}"
        ) from None
    return tuple(sorted(set(indices)))


def shard_ranges(indices: Sequence[int]) -> str:
    """``"0-49"`` for a contiguous run of shard indices, else the comma-separated list.

    Examples
    --------
    >>> shard_ranges([3, 4, 5]), shard_ranges([7]), shard_ranges([0, 2])
    ('3-5', '7', '0,2')
    """
    if not indices:
        return "(none)"
    if len(indices) == 1:
        return str(indices[0])
    if list(indices) == list(range(indices[0], indices[-1] + 1)):
        return f"{indices[0]}-{indices[-1]}"
    return ",".join(map(str, indices))


def utc_now() -> str:
    """Current UTC time in ISO 8601 with second precision, e.g. ``2025-01-31T12:00:00+00:00``."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def _distribution_version(*names: str) -> str:
    """Installed version of the first of ``names`` that is installed (no import)."""
    for name in names:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return _NOT_INSTALLED


def _data_generation_version() -> str:
    version = _distribution_version("debvader_euclid")
    if version != _NOT_INSTALLED:
        return version
    try:  # running from a source checkout: the package is importable, not installed
        from debvader_euclid import __version__
    except ImportError:
        return _NOT_INSTALLED
    return str(__version__)


def software_versions() -> dict[str, str]:
    """Versions of the software that writes a data set, without importing any of it.

    Returns
    -------
    dict of str to str
        Keys ``data_generation``, ``galsim``, ``numpy``, ``tensorflow`` and ``python``;
        ``"not installed"`` for a package that is missing.
    """
    return {
        "data_generation": _data_generation_version(),
        "galsim": _distribution_version("galsim", "GalSim"),
        "numpy": _distribution_version("numpy"),
        "tensorflow": _distribution_version("tensorflow", "tensorflow-cpu", "tensorflow-macos"),
        "python": platform.python_version(),
    }


def _jsonable(value: Any, where: str) -> Any:
    """Convert ``value`` to plain JSON types; TypeError naming ``where`` if impossible.

    numpy scalars and arrays (duck-typed through ``.tolist()``), tuples and paths are
    converted losslessly; anything else that JSON cannot hold is rejected here rather
    than half-way through writing the manifest.
    """
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{where}: key {key!r} is not a string, JSON needs string keys")
            out[key] = _jsonable(item, f"{where}.{key}")
        return out
    if isinstance(value, list | tuple):
        return [_jsonable(item, f"{where}[{i}]") for i, item in enumerate(value)]
    if hasattr(value, "tolist") and hasattr(value, "dtype"):  # numpy scalar or array
        return _jsonable(value.tolist(), where)
    raise TypeError(f"{where}: {type(value).__name__} value {value!r} cannot be stored in JSON")


def _require_keys(payload: Mapping[str, Any], keys: Iterable[str], what: str) -> None:
    missing = [key for key in keys if key not in payload]
    if missing:
        raise ValueError(f"{what} is missing key(s): {', '.join(missing)}")


@dataclass
class ShardRecord:
    """One shard of a data set, as listed in the manifest.

    Attributes
    ----------
    file : str
        File name relative to the data set folder (see :func:`shard_filename`).
    index : int
        Zero-based shard index.
    n_examples : int
        Number of examples (stamps or blended pairs) in the shard.
    sha256 : str
        Hex SHA-256 of the shard file.
    seed : int
        Seed of the random generator that produced the shard.
    catalogue_rows : list of int or None
        ``[start, stop)`` of the catalogue rows the shard drew its galaxies from,
        or None when the shard did not use a contiguous slice.
    n_bytes : int or None
        Size of the shard file in bytes, for a cheap completeness check without
        hashing; None when unknown.
    """

    file: str
    index: int
    n_examples: int
    sha256: str
    seed: int
    catalogue_rows: list[int] | None = None
    n_bytes: int | None = None

    def __post_init__(self) -> None:
        if Path(self.file).name != self.file or self.file in ("", ".", ".."):
            raise ValueError(
                f"shard file {self.file!r} must be a plain file name relative to the "
                "data set folder"
            )
        if self.n_examples < 0:
            raise ValueError(f"shard {self.file}: n_examples is negative ({self.n_examples})")
        if self.catalogue_rows is not None:
            rows = [int(r) for r in self.catalogue_rows]
            if len(rows) != 2 or rows[0] > rows[1]:
                raise ValueError(
                    f"shard {self.file}: catalogue_rows must be [start, stop] with "
                    f"start <= stop, got {self.catalogue_rows!r}"
                )
            self.catalogue_rows = rows

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON dictionary of the record."""
        return {
            "file": self.file,
            "index": int(self.index),
            "n_examples": int(self.n_examples),
            "sha256": self.sha256,
            "seed": int(self.seed),
            "catalogue_rows": self.catalogue_rows,
            "n_bytes": None if self.n_bytes is None else int(self.n_bytes),
        }

    @classmethod
    def from_dict(cls, payload: Mapping[str, Any]) -> ShardRecord:
        """Inverse of :meth:`to_dict`; ValueError naming missing keys."""
        _require_keys(payload, ("file", "index", "n_examples", "sha256", "seed"), "shard record")
        rows = payload.get("catalogue_rows")
        n_bytes = payload.get("n_bytes")
        return cls(
            file=str(payload["file"]),
            index=int(payload["index"]),
            n_examples=int(payload["n_examples"]),
            sha256=str(payload["sha256"]),
            seed=int(payload["seed"]),
            catalogue_rows=None if rows is None else [int(r) for r in rows],
            n_bytes=None if n_bytes is None else int(n_bytes),
        )


@dataclass
class Manifest:
    """Description of a sharded data set folder.

    Attributes
    ----------
    kind : {"isolated", "blended"}
        Data set kind; fixes the fields of every example (:mod:`data_generation.schema`).
    schema_version : int
        :data:`data_generation.schema.SCHEMA_VERSION` of the writer.
    stamp_size : int
        Side of the square stamps in pixels (VIS pixels of 0.1 arcsec).
    seed : int
        Master seed from which the per-shard seeds were drawn.
    config : dict
        Generation configuration (plain JSON: numbers, strings, lists, dicts).
    shards : list of ShardRecord
        The shards, normally in index order.
    created_utc : str
        ISO 8601 UTC creation time; defaults to now.
    software : dict of str to str
        Versions of data_generation, galsim, numpy, tensorflow and python; defaults
        to :func:`software_versions`.
    """

    kind: str
    schema_version: int
    stamp_size: int
    seed: int
    config: dict[str, Any]
    shards: list[ShardRecord]
    created_utc: str = field(default_factory=utc_now)
    software: dict[str, str] = field(default_factory=software_versions)

    def instrument_summary(self) -> dict[str, Any]:
        """The PSF and noise a data set was simulated with, from its manifest.

        See :func:`instrument_summary_from_config`, applied to :attr:`config`.
        """
        return instrument_summary_from_config(self.config)

    def __post_init__(self) -> None:
        check_kind(self.kind)
        if int(self.stamp_size) < 1:
            raise ValueError(
                f"stamp_size must be a positive number of pixels, got {self.stamp_size}"
            )

    @property
    def counts(self) -> dict[str, int]:
        """``{"n_examples": total over shards, "n_shards": number of shards}``."""
        return {
            "n_examples": sum(int(s.n_examples) for s in self.shards),
            "n_shards": len(self.shards),
        }

    def shard(self, index: int) -> ShardRecord:
        """The record of shard ``index``; KeyError listing the valid indices otherwise."""
        for record in self.shards:
            if record.index == index:
                return record
        valid = ", ".join(str(s.index) for s in self.shards)
        raise KeyError(f"no shard with index {index} in the manifest (indices: {valid})")

    def content_sha256(self) -> str:
        """Hex SHA-256 of what the data set holds, independent of when and where it was written.

        Hashes the kind, the schema version, the stamp size (pixels) and, in shard-index
        order, each shard's index, number of examples and SHA-256; leaves out the
        creation time, the folder and catalogue paths, the software versions and the
        generation configuration (which the shard contents already fix). Two data sets
        with identical shards have the same content hash, so a data set regenerated
        with the same seed and software is recognised as the one a model was trained on.

        Returns
        -------
        str
            64 hexadecimal digits.
        """
        content = {
            "kind": self.kind,
            "schema_version": int(self.schema_version),
            "stamp_size": int(self.stamp_size),
            "shards": [
                [int(s.index), int(s.n_examples), str(s.sha256)]
                for s in sorted(self.shards, key=lambda s: s.index)
            ],
        }
        text = json.dumps(content, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON dictionary, ``counts`` included.

        Raises
        ------
        TypeError
            If ``config`` holds a value JSON cannot represent (the key is named).
        """
        return {
            "kind": self.kind,
            "schema_version": int(self.schema_version),
            "stamp_size": int(self.stamp_size),
            "seed": int(self.seed),
            "config": _jsonable(self.config, "config"),
            "shards": [s.to_dict() for s in self.shards],
            "counts": self.counts,
            "created_utc": self.created_utc,
            "software": _jsonable(self.software, "software"),
        }

    @classmethod
    def from_dict(cls, payload: Mapping[str, Any]) -> Manifest:
        """Inverse of :meth:`to_dict`.

        The schema version is not checked here (see :func:`load_manifest`).

        Raises
        ------
        ValueError
            On missing keys, an unknown kind, or ``counts`` that disagree with the
            shard list.
        """
        _require_keys(
            payload,
            ("kind", "schema_version", "stamp_size", "seed", "config", "shards"),
            "manifest",
        )
        manifest = cls(
            kind=str(payload["kind"]),
            schema_version=int(payload["schema_version"]),
            stamp_size=int(payload["stamp_size"]),
            seed=int(payload["seed"]),
            config=dict(payload["config"]),
            shards=[ShardRecord.from_dict(s) for s in payload["shards"]],
            created_utc=str(payload.get("created_utc", "")),
            software=dict(payload.get("software", {})),
        )
        stored = payload.get("counts")
        if stored is not None and dict(stored) != manifest.counts:
            raise ValueError(
                f"manifest counts {dict(stored)} disagree with its shard list {manifest.counts}"
            )
        return manifest


def instrument_summary_from_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """The PSF and noise a data set was simulated with, from its manifest's ``config``.

    Parameters
    ----------
    config : mapping
        ``Manifest.config``, or one entry of its ``combined_from`` list (same keys).

    Returns
    -------
    dict
        ``psf`` (``"moffat"``, ``"airy"``, ``"kolmogorov-airy"`` or the name of a user PSF
        image), ``psf_fwhm_arcsec`` (the optical PSF's FWHM before pixelisation, arcsec),
        ``pixelised_psf_fwhm_arcsec`` (arcsec), ``noise_sigma_uJy`` (per pixel, uJy),
        ``mag_limit`` (AB) and ``noise_definition``; None for what the manifest does
        not record (data sets written by other tools). For a data set made by
        ``debvader-euclid combine`` from inputs with different PSFs or noise, ``psf``
        lists them all (``'mixture: airy 0.17", moffat 0.17"'``) and the other values
        are those shared by every input, None where they differ.
    """
    parts = config.get("combined_from")
    if isinstance(parts, list) and parts:
        summaries = [instrument_summary_from_config(part) for part in parts]
        merged = {
            key: value if all(s[key] == value for s in summaries) else None
            for key, value in summaries[0].items()
        }
        labels = sorted({psf_label(s) for s in summaries})
        if len(labels) > 1:
            merged["psf"] = "mixture: " + ", ".join(labels)
            merged["psf_fwhm_arcsec"] = None
        return merged
    generation = config.get("generation", {})
    measured = config.get("instrument_measured", {})
    instrument = generation.get("instrument", {}) if isinstance(generation, Mapping) else {}
    if not isinstance(instrument, Mapping):
        instrument = {}
    if not isinstance(measured, Mapping):
        measured = {}
    psf_image = instrument.get("psf_image")
    return {
        "psf": Path(psf_image).name if psf_image else instrument.get("psf_model"),
        "psf_fwhm_arcsec": measured.get("psf_fwhm_arcsec", instrument.get("psf_fwhm_arcsec")),
        "pixelised_psf_fwhm_arcsec": measured.get("pixelised_psf_fwhm_arcsec"),
        "noise_sigma_uJy": measured.get("noise_sigma_uJy"),
        "mag_limit": instrument.get("mag_limit"),
        "noise_definition": instrument.get("noise_definition"),
    }


def psf_label(summary: Mapping[str, Any]) -> str:
    """``'airy 0.17"'`` (FWHM in arcsec) from an :func:`instrument_summary_from_config`.

    ``"unrecorded PSF"`` when the summary names no PSF.
    """
    fwhm = summary.get("psf_fwhm_arcsec")
    psf = summary.get("psf") or "unrecorded PSF"
    return f'{psf} {fwhm:.3g}"' if fwhm is not None else str(psf)


def save_manifest(folder: str | os.PathLike, manifest: Manifest) -> Path:
    """Write ``manifest`` as ``folder/manifest.json``, atomically.

    Parameters
    ----------
    folder : path-like
        Data set folder (must exist).
    manifest : Manifest

    Returns
    -------
    pathlib.Path
        Path of the manifest file.
    """
    path = Path(folder) / MANIFEST_NAME
    payload = manifest.to_dict()  # converts / validates before anything is written
    write_json_atomic(path, payload)
    log.info(
        "wrote %s: %s data set, %d examples in %d shards",
        path,
        manifest.kind,
        manifest.counts["n_examples"],
        manifest.counts["n_shards"],
    )
    return path


def load_manifest(folder: str | os.PathLike) -> Manifest:
    """Read ``folder/manifest.json``.

    Parameters
    ----------
    folder : path-like
        Data set folder.

    Returns
    -------
    Manifest

    Raises
    ------
    FileNotFoundError
        If the folder has no manifest.
    ValueError
        If the manifest is not valid JSON, is incomplete, or was written with a
        schema version other than :data:`data_generation.schema.SCHEMA_VERSION`.
    """
    folder = Path(folder)
    path = folder / MANIFEST_NAME
    if not path.is_file():
        raise FileNotFoundError(
            f"no {MANIFEST_NAME} in {folder}: not a data set written by `debvader-euclid generate`"
        )
    try:
        payload = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON: {err}") from err
    if not isinstance(payload, dict):
        raise ValueError(f"{path} does not hold a JSON object")
    version = payload.get("schema_version")
    if version != SCHEMA_VERSION:
        writer = payload.get("software", {}).get("data_generation", "unknown")
        if not isinstance(version, int) or isinstance(version, bool):
            advice = f"has no valid schema version ({version!r})"
        elif version > SCHEMA_VERSION:
            advice = (
                f"has schema version {version}, newer than schema version {SCHEMA_VERSION} "
                f"that this data_generation reads: upgrade data_generation (the data set "
                f"was written by version {writer})"
            )
        else:
            advice = (
                f"has schema version {version}, older than schema version {SCHEMA_VERSION} "
                f"that this data_generation reads: regenerate the data set, or read it with "
                f"data_generation {writer} that wrote it"
            )
        raise ValueError(f"data set {folder} {advice}")
    try:
        return Manifest.from_dict(payload)
    except (ValueError, TypeError) as err:
        raise ValueError(f"{path}: {err}") from err


def manifest_sha256(folder: str | os.PathLike) -> str:
    """Hex SHA-256 of ``folder/manifest.json``: the hash of the exact manifest file.

    The manifest holds the SHA-256 of every shard, so this one hash pins the whole
    data set, and also its creation time, paths and software versions: regenerating
    identical data changes it. :meth:`Manifest.content_sha256` does not.
    """
    path = Path(folder) / MANIFEST_NAME
    if not path.is_file():
        raise FileNotFoundError(
            f"no {MANIFEST_NAME} in {folder}: not a data set written by `debvader-euclid generate`"
        )
    return sha256_file(path)


def verify_shards(
    folder: str | os.PathLike,
    manifest: Manifest,
    check_sha256: bool = True,
    shards: Iterable[int] | None = None,
) -> list[str]:
    """Compare the shard files in ``folder`` with what ``manifest`` says.

    Parameters
    ----------
    folder : path-like
        Data set folder.
    manifest : Manifest
    check_sha256 : bool
        Hash every shard (reads all of it). Without it only existence and size are
        checked, which is cheap.
    shards : iterable of int, optional
        Shard indices to check; all shards by default.

    Returns
    -------
    list of str
        Human-readable problems (missing file, size or SHA-256 mismatch, duplicate
        shard indices); empty when everything matches.
    """
    folder = Path(folder)
    problems: list[str] = []
    seen_index: dict[int, str] = {}
    seen_file: set[str] = set()
    for record in manifest.shards:
        if record.index in seen_index:
            problems.append(
                f"manifest lists shard index {record.index} twice "
                f"({seen_index[record.index]} and {record.file})"
            )
        if record.file in seen_file:
            problems.append(f"manifest lists file {record.file} twice")
        seen_index[record.index] = record.file
        seen_file.add(record.file)

    wanted = None if shards is None else {int(i) for i in shards}
    if wanted is not None:
        unknown = sorted(wanted - set(seen_index))
        if unknown:
            problems.append(
                f"shard index(es) {', '.join(map(str, unknown))} not in the manifest "
                f"(indices: {', '.join(map(str, sorted(seen_index)))})"
            )

    for record in manifest.shards:
        if wanted is not None and record.index not in wanted:
            continue
        path = folder / record.file
        if not path.is_file():
            problems.append(f"{record.file}: missing")
            continue
        size = path.stat().st_size
        if record.n_bytes is not None and size != record.n_bytes:
            problems.append(
                f"{record.file}: size {size} bytes, manifest says {record.n_bytes} bytes"
            )
            continue  # a size mismatch already proves the content differs
        if check_sha256:
            digest = sha256_file(path)
            if digest != record.sha256:
                problems.append(f"{record.file}: sha256 {digest}, manifest says {record.sha256}")
    return problems


def require_complete(
    folder: str | os.PathLike,
    manifest: Manifest,
    check_sha256: bool = True,
    shards: Iterable[int] | None = None,
) -> None:
    """Raise ValueError listing every problem :func:`verify_shards` finds.

    Parameters are those of :func:`verify_shards`.
    """
    problems = verify_shards(folder, manifest, check_sha256=check_sha256, shards=shards)
    if problems:
        listing = "\n  ".join(problems)
        raise ValueError(
            f"data set {folder} is incomplete or corrupted ({len(problems)} problem(s)):\n"
            f"  {listing}"
        )
