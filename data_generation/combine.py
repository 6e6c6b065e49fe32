"""Combine shards of several data sets into one, for training on a mixture.

``debvader-euclid combine --input A --input B:0-49 --out C`` writes a data set
folder ``C`` whose shards are those of ``A`` and shards 0-49 of ``B``, so that
training, evaluation and ``describe`` read a mixture of simulations (other PSFs,
noise levels, blend recipes) as one data set. Shard files are hard-linked when the
inputs are on the same file system (no extra disk space), copied otherwise; either
way every shard keeps its SHA-256, seed and example count, and the manifest records
where each came from.

Order of the shards
-------------------
The shards of the inputs are interleaved in proportion to their numbers: input
``p`` with ``n_p`` shards puts its ``k``-th shard at position ``(k + 1/2) / n_p``
of the combined list. Training holds out the *last* shards of a data set for
validation (``training.val_fraction``), so the held-out shards are a mixture of the
inputs in the same proportions as the training shards.

Manifest
--------
``config["combined_from"]`` lists, for each input, its folder, both hashes
(:func:`~data_generation.manifest.manifest_sha256`,
:meth:`~data_generation.manifest.Manifest.content_sha256`), its ``generation`` and
``instrument_measured`` configuration and the pairs ``[source index, combined
index]`` of the shards taken. ``config["generation"]`` holds the generation
parameters on which all inputs agree (a parameter that differs is left out), so
that tools reading one data set's parameters (the morphology, the annulus) keep
working; :meth:`~data_generation.manifest.Manifest.instrument_summary` names every
PSF of the mixture. The combined manifest's ``seed`` is -1: each shard keeps the
seed that produced it.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from data_generation.io_utils import check_output_folder
from data_generation.manifest import (
    MANIFEST_NAME,
    Manifest,
    ShardRecord,
    load_manifest,
    manifest_sha256,
    parse_shard_list,
    require_complete,
    save_manifest,
    shard_filename,
    shard_ranges,
)

log = logging.getLogger(__name__)

#: ``Manifest.seed`` of a combined data set (its shards keep their own seeds).
COMBINED_SEED = -1


@dataclass(frozen=True)
class CombineInput:
    """One input of :func:`combine_data_sets`: a data set folder and the shards taken.

    Attributes
    ----------
    folder : pathlib.Path
        Data set folder written by ``debvader-euclid generate`` (not by ``combine``:
        give a combined set's own inputs instead).
    shards : tuple of int or None
        Shard indices to take; None takes all of them.
    """

    folder: Path
    shards: tuple[int, ...] | None = None

    @classmethod
    def parse(cls, text: str) -> CombineInput:
        """``"DIR"`` or ``"DIR:SHARDS"`` (``SHARDS`` as ``0-49`` or ``0,3,5`` or a mix).

        A folder whose name itself contains a colon is read whole when it exists.
        """
        if Path(text).exists() or ":" not in text:
            return cls(Path(text))
        folder, _, spec = text.rpartition(":")
        return cls(Path(folder), parse_shard_list(spec))


def interleaved_order(counts: Sequence[int]) -> list[tuple[int, int]]:
    """Positions of the shards of several inputs in a proportional interleaving.

    Parameters
    ----------
    counts : sequence of int
        Number of shards taken from each input.

    Returns
    -------
    list of (int, int)
        ``(input number, k)`` for every shard, in combined order: input ``p``'s
        ``k``-th shard sits at ``(k + 1/2) / counts[p]``; ties go to the earlier input.

    Examples
    --------
    >>> interleaved_order([3, 1])
    [(0, 0), (0, 1), (1, 0), (0, 2)]
    """
    keys = [((k + 0.5) / n, p, k) for p, n in enumerate(counts) for k in range(n)]
    return [(p, k) for _, p, k in sorted(keys)]


def common_parameters(configs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The keys whose values are equal in every mapping of ``configs``."""
    if not configs:
        return {}
    first = configs[0]
    return {
        key: value
        for key, value in first.items()
        if all(key in other and other[key] == value for other in configs[1:])
    }


def _link_or_copy(source: Path, target: Path) -> str:
    """Hard-link ``source`` to ``target``; copy it when the file systems differ."""
    try:
        os.link(source, target)
        return "linked"
    except OSError:
        shutil.copyfile(source, target)
        return "copied"


def combine_data_sets(
    inputs: Sequence[CombineInput],
    out: str | os.PathLike,
    overwrite: bool = False,
    verify: bool = False,
) -> Manifest:
    """Write a data set made of shards of several others (module docstring).

    Parameters
    ----------
    inputs : sequence of CombineInput
        At least two data sets (or two shard selections of one), all of the same
        kind, schema version and stamp size (pixels).
    out : path-like
        Output folder; created. It must not exist or be empty unless ``overwrite``.
    overwrite : bool
        Replace a data set already in ``out`` (its shards and manifest).
    verify : bool
        Check the SHA-256 of every input shard before combining (reads them all);
        without it only the presence and size of the files are checked.

    Returns
    -------
    Manifest
        The combined manifest, also written to ``out/manifest.json``.

    Raises
    ------
    ValueError
        Fewer than two inputs, inputs of different kinds, schema versions or stamp
        sizes, a combined data set as an input, a shard index an input does not
        have, the same shard taken twice, ``out`` being one of the inputs, or an
        incomplete input.
    FileExistsError
        ``out`` holds files and ``overwrite`` is False.
    """
    if len(inputs) < 2:
        raise ValueError(
            f"combine needs at least two inputs (data sets or shard selections), got {len(inputs)}"
        )
    out = Path(out)
    manifests: list[Manifest] = []
    selections: list[tuple[int, ...]] = []
    seen: dict[tuple[str, int], Path] = {}
    for item in inputs:
        folder = item.folder
        if not folder.is_dir():
            raise FileNotFoundError(f"input data set folder {folder} does not exist")
        if out.exists() and folder.resolve() == out.resolve():
            raise ValueError(f"the output folder {out} is also an input: choose another --out")
        manifest = load_manifest(folder)
        if manifest.config.get("combined_from"):
            inner = ", ".join(str(part["folder"]) for part in manifest.config["combined_from"])
            raise ValueError(
                f"input {folder} is itself a combined data set: give its inputs instead "
                f"({inner}), so that every shard's origin stays one step away"
            )
        available = sorted(s.index for s in manifest.shards)
        wanted = tuple(available) if item.shards is None else item.shards
        unknown = sorted(set(wanted) - set(available))
        if unknown:
            raise ValueError(
                f"input {folder} has no shard(s) {', '.join(map(str, unknown))}; its "
                f"{len(available)} shards are numbered {shard_ranges(available)}"
            )
        if not wanted:
            raise ValueError(f"input {folder}: no shards selected")
        content = manifest.content_sha256()
        for index in wanted:
            if (content, index) in seen:
                raise ValueError(
                    f"shard {index} of {folder} is taken twice (also from "
                    f"{seen[(content, index)]}): a combined data set must not repeat examples"
                )
            seen[(content, index)] = folder
        require_complete(folder, manifest, check_sha256=verify, shards=wanted)
        manifests.append(manifest)
        selections.append(wanted)

    first = manifests[0]
    for item, manifest in zip(inputs[1:], manifests[1:], strict=True):
        for attribute, what in (
            ("kind", "kind"),
            ("schema_version", "schema version"),
            ("stamp_size", "stamp size (pixels)"),
        ):
            if getattr(manifest, attribute) != getattr(first, attribute):
                raise ValueError(
                    f"inputs differ in {what}: {inputs[0].folder} has "
                    f"{getattr(first, attribute)!r}, {item.folder} has "
                    f"{getattr(manifest, attribute)!r}; only data sets of one {what} combine"
                )

    check_output_folder(out, overwrite, what="combined data set folder", replaced="the data set")
    out.mkdir(parents=True, exist_ok=True)
    for stale in [*out.glob("shard-*.tfrecord"), out / MANIFEST_NAME]:
        if stale.exists():
            stale.unlink()

    order = interleaved_order([len(s) for s in selections])
    n_shards = len(order)
    records: list[ShardRecord] = []
    pairs: list[list[list[int]]] = [[] for _ in inputs]
    how: dict[str, int] = {}
    for new_index, (p, k) in enumerate(order):
        source = manifests[p].shard(selections[p][k])
        name = shard_filename(new_index, n_shards)
        done = _link_or_copy(inputs[p].folder / source.file, out / name)
        how[done] = how.get(done, 0) + 1
        records.append(
            ShardRecord(
                file=name,
                index=new_index,
                n_examples=source.n_examples,
                sha256=source.sha256,
                seed=source.seed,
                catalogue_rows=None,
                n_bytes=source.n_bytes,
            )
        )
        pairs[p].append([source.index, new_index])

    parts = []
    for item, manifest, taken in zip(inputs, manifests, pairs, strict=True):
        parts.append(
            {
                "folder": str(item.folder.resolve()),
                "manifest_sha256": manifest_sha256(item.folder),
                "content_sha256": manifest.content_sha256(),
                "seed": manifest.seed,
                "n_examples": sum(manifest.shard(src).n_examples for src, _ in taken),
                "shards": taken,
                "generation": manifest.config.get("generation", {}),
                "instrument_measured": manifest.config.get("instrument_measured", {}),
            }
        )
    generation = common_parameters([part["generation"] for part in parts])
    combined = Manifest(
        kind=first.kind,
        schema_version=first.schema_version,
        stamp_size=first.stamp_size,
        seed=COMBINED_SEED,
        config={"combined_from": parts, "generation": generation},
        shards=records,
    )
    save_manifest(out, combined)
    log.info(
        "combined %d inputs into %s: %d examples in %d shards (%s)",
        len(inputs),
        out,
        combined.counts["n_examples"],
        n_shards,
        ", ".join(f"{n} {word}" for word, n in sorted(how.items())),
    )
    return combined


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``combine`` subcommand."""
    parser = subparsers.add_parser(
        "combine",
        help="combine shards of several data sets into one (a training mixture)",
        description=(
            "Write a data set made of the shards of several others (hard links when "
            "possible), interleaved in proportion so that held-out validation shards "
            "are a mixture too; the manifest records where every shard came from."
        ),
    )
    parser.add_argument(
        "--input",
        dest="inputs",
        action="append",
        required=True,
        metavar="DIR[:SHARDS]",
        help="a data set folder, optionally with the shards to take (e.g. data/x:0-149); "
        "repeat for each input",
    )
    parser.add_argument("--out", required=True, help="output folder of the combined data set")
    parser.add_argument(
        "--overwrite", action="store_true", help="replace a data set already in --out"
    )
    parser.add_argument(
        "--verify-data",
        action="store_true",
        help="check the SHA-256 of every input shard first (reads them all)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``combine``; returns the exit status."""
    inputs = [CombineInput.parse(text) for text in args.inputs]
    combine_data_sets(inputs, args.out, overwrite=args.overwrite, verify=args.verify_data)
    return 0
