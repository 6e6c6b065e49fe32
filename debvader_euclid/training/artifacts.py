"""The output folder of a training stage, and loading a trained stage back.

Layout of ``--out``::

    config.json        {"format_version", "stage", "model": ModelConfig, "training": TrainingConfig}
    encoder.h5         weights of the encoder (stage 2: the blend encoder), best validation loss
    decoder.h5         weights of the decoder (stage 2: copy of the frozen stage-1 decoder)
    history.csv        one row per epoch: losses, learning rate, time
    provenance.json    status ("running", "complete", "failed"), command lines, data manifest
                       SHA-256s, stage-1 folder and weight hashes (stage 2), software
                       versions, best epoch, SHA-256 of the weight files
    checkpoints/       state.json + TensorFlow checkpoint of the last epoch (weights,
                       optimizer state, latent random generator) for --resume
    logs/              TensorBoard event files

Weights are HDF5 files written by ``tf_keras.Model.save_weights`` (layer names and
arrays only: no code, no pickled objects, no Lambda layers). Their bytes depend on
the weight values alone, so their SHA-256 identifies them. Loading reads
``config.json``, rebuilds the networks with
:mod:`debvader_euclid.models` and loads the weights: nobody re-types an architecture.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import tf_keras as keras

from data_generation.io_utils import atomic_path, sha256_file, write_json_atomic
from debvader_euclid.models import (
    STAGES,
    ModelConfig,
    StageNetworks,
    build_blend_encoder,
    build_decoder,
    build_encoder_decoder,
    freeze,
)
from debvader_euclid.training.config import FORMAT_VERSION, TrainingConfig

log = logging.getLogger(__name__)

CONFIG_NAME = "config.json"
PROVENANCE_NAME = "provenance.json"
HISTORY_NAME = "history.csv"
ENCODER_WEIGHTS = "encoder.h5"
DECODER_WEIGHTS = "decoder.h5"
WEIGHT_FILES = (ENCODER_WEIGHTS, DECODER_WEIGHTS)
CHECKPOINT_DIR = "checkpoints"
LOG_DIR = "logs"

#: Values of ``provenance.json["status"]``.
STATUS_RUNNING, STATUS_COMPLETE, STATUS_FAILED = "running", "complete", "failed"


def save_weights_atomic(model: keras.Model, path: str | os.PathLike) -> Path:
    """Save the weights of ``model`` as HDF5, atomically.

    Parameters
    ----------
    model : tf_keras.Model
    path : path-like
        Destination, normally ending in ``.h5``.

    Returns
    -------
    pathlib.Path
    """
    path = Path(path)
    with atomic_path(path) as tmp:
        model.save_weights(str(tmp), save_format="h5")
    return path


def write_config(
    folder: str | os.PathLike, stage: str, model: ModelConfig, training: TrainingConfig
) -> Path:
    """Write ``config.json`` of a stage folder."""
    return write_json_atomic(
        Path(folder) / CONFIG_NAME,
        {
            "format_version": FORMAT_VERSION,
            "stage": stage,
            "model": model.to_dict(),
            "training": training.to_dict(),
        },
    )


def read_config(folder: str | os.PathLike) -> tuple[str, ModelConfig, TrainingConfig]:
    """Read ``config.json`` of a stage folder.

    Returns
    -------
    stage : str
    model : ModelConfig
    training : TrainingConfig

    Raises
    ------
    FileNotFoundError
        If there is no ``config.json``.
    ValueError
        If it is invalid or of an unknown format version.
    """
    path = Path(folder) / CONFIG_NAME
    if not path.is_file():
        raise FileNotFoundError(f"{folder} has no {CONFIG_NAME}: not a training output folder")
    try:
        payload = json.loads(path.read_text())
        version = payload.get("format_version")
        if version != FORMAT_VERSION:
            raise ValueError(f"format_version {version!r}, expected {FORMAT_VERSION}")
        stage = payload["stage"]
        if stage not in STAGES:
            raise ValueError(f"unknown stage {stage!r}")
        return (
            stage,
            ModelConfig.from_dict(payload["model"]),
            TrainingConfig.from_dict(payload["training"]),
        )
    except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as err:
        raise ValueError(f"{path} is not a valid training configuration: {err}") from err


def read_provenance(folder: str | os.PathLike) -> dict[str, Any]:
    """``provenance.json`` of a stage folder (empty dict if absent)."""
    path = Path(folder) / PROVENANCE_NAME
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON: {err}") from err


def write_provenance(folder: str | os.PathLike, payload: Mapping[str, Any]) -> Path:
    """Write ``provenance.json`` of a stage folder, atomically."""
    return write_json_atomic(Path(folder) / PROVENANCE_NAME, dict(payload))


def weight_hashes(folder: str | os.PathLike) -> dict[str, str]:
    """SHA-256 of the weight files present in a stage folder."""
    folder = Path(folder)
    return {name: sha256_file(folder / name) for name in WEIGHT_FILES if (folder / name).is_file()}


def check_complete(folder: str | os.PathLike, verify: bool = True) -> dict[str, Any]:
    """Raise unless ``folder`` holds a finished, intact training stage.

    Parameters
    ----------
    folder : path-like
    verify : bool
        Compare the SHA-256 of the weight files with those in ``provenance.json``.

    Returns
    -------
    dict
        The provenance.

    Raises
    ------
    FileNotFoundError
        If the folder does not exist or is not a training folder.
    ValueError
        If training has not finished (or failed), or weights are missing or altered.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"trained stage folder {folder} does not exist")
    stage, _, _ = read_config(folder)
    provenance = read_provenance(folder)
    status = provenance.get("status")
    if status != STATUS_COMPLETE:
        command = "vae" if stage == "vae" else "deblender"
        hint = (
            f"finish it with `debvader-euclid train {command} ... --out {folder} --resume`"
            if status in (STATUS_RUNNING, None)
            else f"its training failed: {provenance.get('failure', 'see its logs')}"
        )
        raise ValueError(
            f"{folder} is an unfinished {stage} training folder (status: {status or 'unknown'}); "
            f"{hint}"
        )
    missing = [name for name in WEIGHT_FILES if not (folder / name).is_file()]
    if missing:
        raise ValueError(f"{folder} is missing weight file(s) {', '.join(missing)}")
    if verify:
        expected = provenance.get("files", {})
        for name, digest in weight_hashes(folder).items():
            if expected.get(name) != digest:
                raise ValueError(
                    f"{folder / name} does not match the SHA-256 recorded in "
                    f"{PROVENANCE_NAME}: the file was changed or corrupted"
                )
    return provenance


def build_stage_networks(
    stage: str, config: ModelConfig, sampler: Any = None, seed: int = 0
) -> StageNetworks:
    """Fresh (untrained) networks of a stage; decoder frozen for stage 2."""
    if stage == "vae":
        encoder, decoder = build_encoder_decoder(config, seed=seed, sampler=sampler)
    elif stage == "deblender":
        encoder = build_blend_encoder(config, seed=seed, sampler=sampler)
        decoder = freeze(build_decoder(config, seed=seed))
    else:
        raise ValueError(f"unknown stage {stage!r}: expected one of {', '.join(STAGES)}")
    return StageNetworks(stage, config, encoder, decoder)


def load_networks(
    folder: str | os.PathLike,
    stage: str,
    config: ModelConfig,
    networks: StageNetworks | None = None,
) -> StageNetworks:
    """Load the weight files of ``folder`` into (freshly built) networks."""
    folder = Path(folder)
    if networks is None:
        networks = build_stage_networks(stage, config)
    networks.encoder.load_weights(str(folder / ENCODER_WEIGHTS))
    networks.decoder.load_weights(str(folder / DECODER_WEIGHTS))
    return networks


def load_stage(
    folder: str | os.PathLike, expected_stage: str | None = None, verify: bool = True
) -> tuple[StageNetworks, dict[str, Any]]:
    """Load a trained stage from its output folder.

    Reads ``config.json``, builds the networks it describes and loads their
    weights; the encoder returns the posterior mean, so predictions are
    deterministic.

    Parameters
    ----------
    folder : path-like
        Output folder of ``train vae`` or ``train deblender``.
    expected_stage : {"vae", "deblender"}, optional
        Raise if the folder holds the other stage.
    verify : bool
        Check the weight files against the SHA-256 in ``provenance.json``.

    Returns
    -------
    networks : StageNetworks
        ``networks.predict(stamps_uJy)`` returns the noiseless central galaxy in
        uJy/pixel; ``networks.config`` is the :class:`ModelConfig`.
    config : dict
        ``{"stage", "model": ModelConfig, "training": TrainingConfig,
        "provenance": dict}``.

    Raises
    ------
    FileNotFoundError
        If the folder (or its configuration) does not exist.
    ValueError
        If the folder is unfinished, altered, or of the wrong stage.
    """
    folder = Path(folder)
    provenance = check_complete(folder, verify=verify)
    stage, model, training = read_config(folder)
    if expected_stage is not None and stage != expected_stage:
        raise ValueError(
            f"{folder} holds a trained {stage!r} stage, expected a {expected_stage!r} stage"
        )
    networks = load_networks(folder, stage, model)
    log.info("loaded trained %s stage from %s", stage, folder)
    return networks, {
        "stage": stage,
        "model": model,
        "training": training,
        "provenance": provenance,
    }
