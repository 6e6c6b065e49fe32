"""Which trained network a data set is evaluated with, and running it.

A **blended** data set is evaluated with the stage-2 deblender
(:class:`debvader_euclid.deblender.Deblender`), fed ``blend_noisy``; an
**isolated** data set with the stage-1 VAE, fed ``central_noisy``. Both predict
the noiseless central galaxy (``central_noiseless``) in uJy per 0.1 arcsec pixel.

A model is given as

* a shipped model name (``"analytic"``): ``trained_models/<name>/deblender`` or
  ``trained_models/<name>/vae``;
* a model folder holding ``deblender/`` and/or ``vae/``;
* a stage folder written by ``debvader-euclid train vae|deblender``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

#: Stage that evaluates each data set kind.
STAGE_FOR_KIND = {"blended": "deblender", "isolated": "vae"}

#: Input image field of each data set kind (what the network sees).
INPUT_FIELD = {"blended": "blend_noisy", "isolated": "central_noisy"}

#: The target of both stages.
TARGET_FIELD = "central_noiseless"

_TRAIN_COMMAND = {
    "vae": "debvader-euclid train vae",
    "deblender": "debvader-euclid train deblender",
}


@dataclass
class Predictor:
    """A loaded trained stage, ready to predict central galaxies.

    Attributes
    ----------
    stage : {"vae", "deblender"}
        Stage 1 (isolated galaxies) or stage 2 (blends).
    folder : pathlib.Path
        Stage folder the weights were loaded from.
    stamp_size : int
        Side of the square stamps the networks take, pixels.
    info : dict
        ``{"stage", "model", "training", "provenance"}`` from
        :func:`debvader_euclid.training.artifacts.load_stage`.
    members : tuple of Predictor
        For an ensemble (:func:`ensemble_predictor`), the predictors whose images it
        averages (``folder`` and ``info`` are then the first member's); empty otherwise.
    """

    stage: str
    folder: Path
    stamp_size: int
    info: dict[str, Any]
    _run: Callable[[np.ndarray, int, np.ndarray | None], np.ndarray]
    members: tuple[Predictor, ...] = ()

    def predict(
        self,
        images: np.ndarray,
        batch_size: int = 512,
        noise_sigma_uJy: np.ndarray | None = None,
    ) -> np.ndarray:
        """Noiseless central galaxy of each stamp.

        Parameters
        ----------
        images : numpy.ndarray
            ``(N, S, S)`` input stamps, uJy/pixel.
        batch_size : int
            Stamps per network call.
        noise_sigma_uJy : numpy.ndarray, optional
            ``(N,)`` pixel noise of each stamp, uJy/pixel; used (and needed) only by
            a predictor loaded with ``neighbours`` "check" or "subtract", or ``refine``.

        Returns
        -------
        numpy.ndarray
            ``(N, S, S)`` float32 predictions, uJy/pixel.
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        return np.asarray(
            self._run(np.asarray(images), int(batch_size), noise_sigma_uJy), dtype=np.float32
        )

    def describe(self) -> dict[str, Any]:
        """Plain-JSON description for ``evaluation.json``: stage, folder, weights, data."""
        provenance = self.info.get("provenance", {})
        model = self.info.get("model")
        return {
            "stage": self.stage,
            "folder": str(self.folder.resolve()),
            "stamp_size": self.stamp_size,
            "weights_sha256": provenance.get("files", {}),
            "training_data": provenance.get("data", {}),
            "model_config": model.to_dict() if hasattr(model, "to_dict") else None,
            **({"ensemble_members": [m.describe() for m in self.members]} if self.members else {}),
        }

    def _training_parts(self) -> Iterator[dict[str, Any]]:
        """The training and validation data records of this stage and of its chain.

        Follows the ``init_encoder`` records of a fine-tuned deblender back to its first
        run; for an ensemble, the records of every member.
        """
        if self.members:
            for member in self.members:
                yield from member._training_parts()
            return
        record: Any = self.info.get("provenance", {})
        while isinstance(record, dict):
            data = record.get("data", {})
            for part in data.values() if isinstance(data, dict) else ():
                if isinstance(part, dict):
                    yield part
                    # the inputs of a combined data set (`debvader-euclid combine`)
                    yield from (p for p in part.get("combined_from") or () if isinstance(p, dict))
            record = record.get("init_encoder")

    def shards_seen_in_training(
        self, manifest_sha256: str, content_sha256: str, shards: Iterable[int]
    ) -> list[int]:
        """Which of ``shards`` of a data set this stage, or its chain, trained or validated on.

        Parameters
        ----------
        manifest_sha256, content_sha256 : str
            The data set's manifest-file and content SHA-256.
        shards : iterable of int
            Shard indices to check (those evaluated).

        Returns
        -------
        list of int
            The sorted indices among ``shards`` that a training or validation record of
            the same data set (either hash) lists; a record that lists no shards counts
            as all of them. Empty for data the model never saw, such as held-out shards
            of a set whose other shards trained it.
        """
        wanted = {int(i) for i in shards}
        seen: set[int] = set()
        for part in self._training_parts():
            same_file = part.get("manifest_sha256") == manifest_sha256
            if not (same_file or part.get("content_sha256") == content_sha256):
                continue
            used = part.get("shards")
            seen |= wanted if not isinstance(used, list) else wanted & {int(i) for i in used}
        return sorted(seen)


def ensemble_predictor(members: Sequence[Predictor]) -> Predictor:
    """A predictor whose prediction is the pixel-wise mean of several predictors'.

    Networks trained from different starting points make partly independent errors;
    averaging their images lowers the scatter of the fluxes (measured in
    ``configs/README.md``, "Latent matching and ensembles"). Each member runs with
    its own options (symmetrisation, neighbours, refine) as it was loaded.

    Parameters
    ----------
    members : sequence of Predictor
        At least two, of the same stage and stamp size.

    Returns
    -------
    Predictor
        ``folder`` and ``info`` are the first member's; ``members`` holds them all.

    Raises
    ------
    ValueError
        Fewer than two members, or members of different stages or stamp sizes.
    """
    members = tuple(members)
    if len(members) < 2:
        raise ValueError(f"an ensemble needs at least two members, got {len(members)}")
    first = members[0]
    for other in members[1:]:
        if (other.stage, other.stamp_size) != (first.stage, first.stamp_size):
            raise ValueError(
                f"ensemble members must share stage and stamp size: {first.folder} is a "
                f"{first.stage} on {first.stamp_size}-pixel stamps, {other.folder} a "
                f"{other.stage} on {other.stamp_size}-pixel stamps"
            )

    def run(images: np.ndarray, batch: int, sigma: np.ndarray | None) -> np.ndarray:
        total = np.zeros(np.shape(images), dtype=np.float64)
        for member in members:
            total += member.predict(images, batch_size=batch, noise_sigma_uJy=sigma)
        return total / len(members)

    return Predictor(
        stage=first.stage,
        folder=first.folder,
        stamp_size=first.stamp_size,
        info=first.info,
        _run=run,
        members=members,
    )


def _stage_of(folder: Path) -> str | None:
    """Stage recorded in ``folder/config.json``, or None if it is unreadable."""
    from debvader_euclid.training.artifacts import read_config

    try:
        return read_config(folder)[0]
    except (FileNotFoundError, ValueError):
        return None


def _wrong_stage(folder: Path, stage: str, kind: str) -> ValueError:
    wanted = STAGE_FOR_KIND[kind]
    article = "an" if kind == "isolated" else "a"
    return ValueError(
        f"{folder} holds a trained {stage!r} stage, but {article} {kind!r} data set is "
        f"evaluated with the {wanted!r} stage: give a folder written by "
        f"`{_TRAIN_COMMAND[wanted]}`, or a model folder holding {wanted}/"
    )


def load_predictor(
    model: str | os.PathLike,
    kind: str,
    verify: bool = True,
    symmetrize: bool = False,
    neighbours: str = "keep",
    refine: bool = False,
    psf: Any = None,
) -> Predictor:
    """Load the stage that evaluates a data set of ``kind``.

    Parameters
    ----------
    model : str or path-like
        Shipped model name, model folder or stage folder (see the module docstring).
    kind : {"blended", "isolated"}
        Data set kind: blended -> stage-2 deblender, isolated -> stage-1 VAE.
    verify : bool
        Check the weight files against the SHA-256 recorded beside them.
    symmetrize : bool
        Average each prediction over the 8 rotations and flips of the stamp
        (:mod:`debvader_euclid.symmetries`).
    neighbours : {"keep", "check", "subtract"}
        Blended data only: what :meth:`Deblender.deblend
        <debvader_euclid.Deblender.deblend>` does with the detected neighbours
        (:mod:`debvader_euclid.neighbours`); other than "keep",
        :meth:`Predictor.predict` needs the noise sigma of each stamp.
    refine : bool
        Blended data only: combine the prediction with the data where the central
        galaxy is bright (:mod:`debvader_euclid.refine`); :meth:`Predictor.predict`
        needs the noise sigma of each stamp.
    psf : numpy.ndarray or galsim.GSObject, optional
        Blended data only: the PSF given to a PSF-conditioned deblender
        (``Deblender.deblend(..., psf=psf)``); ignored, with a log line, by other
        deblenders.

    Returns
    -------
    Predictor

    Raises
    ------
    ValueError
        Unknown model name, a folder lacking the needed stage or holding the other
        one, an unfinished or corrupted stage, or an unknown kind.
    FileNotFoundError
        A model path that does not exist.
    """
    if kind not in STAGE_FOR_KIND:
        raise ValueError(f"unknown data set kind {kind!r}: expected blended or isolated")
    if neighbours != "keep" and kind != "blended":
        raise ValueError(
            f"neighbours={neighbours!r} applies to blended data sets only: an isolated "
            "data set has no neighbours"
        )
    if refine and kind != "blended":
        raise ValueError(
            "refine applies to blended data sets only (it is a step of Deblender.deblend)"
        )
    path = Path(os.fspath(model)).expanduser()
    if (path / "config.json").is_file():
        stage = _stage_of(path)
        if stage is not None and stage != STAGE_FOR_KIND[kind]:
            raise _wrong_stage(path, stage, kind)

    if kind == "blended":
        from debvader_euclid.deblender import Deblender, uses_noise_sigma

        deblender = Deblender.load(model, verify=verify)
        log.info("evaluating with the deblender in %s", deblender.folder)
        if psf is not None and not deblender.psf_input:
            log.info("%s takes no PSF input: the data's PSF is not given to it", deblender.folder)
            psf = None
        return Predictor(
            stage="deblender",
            folder=deblender.folder,
            stamp_size=deblender.stamp_size,
            info=deblender.info,
            _run=lambda images, batch, sigma: deblender.deblend(
                images,
                batch_size=batch,
                symmetrize=symmetrize,
                neighbours=neighbours,
                refine=refine,
                noise_sigma_uJy=sigma if uses_noise_sigma(neighbours, refine) else None,
                psf=psf,
            ),
        )

    from debvader_euclid.deblender import resolve_stage_folder
    from debvader_euclid.training.artifacts import load_stage

    folder = resolve_stage_folder(model, "vae")
    networks, info = load_stage(folder, expected_stage="vae", verify=verify)
    log.info("evaluating with the stage-1 VAE in %s", folder)
    return Predictor(
        stage="vae",
        folder=folder,
        stamp_size=int(networks.config.stamp_size),
        info=info,
        _run=_vae_runner(networks, symmetrize),
    )


def _vae_runner(
    networks: Any, symmetrize: bool
) -> Callable[[np.ndarray, int, np.ndarray | None], np.ndarray]:
    """``(images, batch_size, noise) -> predictions`` of a stage-1 VAE (noise unused)."""
    if not symmetrize:
        return lambda images, batch, _sigma: networks.predict(images, batch_size=batch)
    from debvader_euclid.symmetries import dihedral_average

    return lambda images, batch, _sigma: dihedral_average(
        lambda x: networks.predict(x, batch_size=batch), np.asarray(images, dtype=np.float32)
    )
