"""Two-stage training: the VAE (stage 1) and the deblender (stage 2).

:func:`train_vae` and :func:`train_deblender` check every input first (data kind,
stamp sizes, the stage-1 folder, the output folder), then train with ``fit`` under a
:mod:`tf.distribute` strategy (:func:`default_strategy`) and write the folder
described in :mod:`.artifacts`.

Per epoch: a TensorFlow checkpoint (weights, Adam state, step counter, the latent
random generator), the weights with the best validation loss so far, the history
and the early-stopping state are saved (:class:`EpochCheckpoint`). ``resume=True``
restores the last checkpoint and continues from the next epoch; because the data
stream, the augmentation, the latent draws and the learning-rate schedule are
functions of the seed, the epoch and the saved step counter (never of the process
history), a resumed run ends with the same weights as an uninterrupted one
(bit-identical on CPU: tested).
"""

from __future__ import annotations

import csv
import importlib.metadata
import io
import json
import logging
import math
import os
import platform
import shutil
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tensorflow as tf
import tf_keras as keras

from data_generation.io_utils import atomic_path, write_json_atomic
from data_generation.manifest import utc_now
from debvader_euclid.models import (
    ArcsinhNormalizer,
    LatentSampler,
    ModelConfig,
    PixelGaussianNLL,
    StageNetworks,
    connect,
)
from debvader_euclid.models.config import PSF_KEYS
from debvader_euclid.models.latent_matching import connect_with_latent_matching
from debvader_euclid.training import artifacts
from debvader_euclid.training.config import (
    FORMAT_VERSION,
    ConfigFile,
    TrainingConfig,
    parse_config,
    read_config_file,
    resolve_stage1_model,
    resolve_stage2_model,
)
from debvader_euclid.training.data import (
    DataSplit,
    ShardPSFs,
    loss_weights,
    split_data,
    training_dataset,
    validation_dataset,
)

log = logging.getLogger(__name__)

STATE_NAME = "state.json"
HISTORY_COLUMNS = (
    "epoch",
    "loss",
    "nll",
    "kl",
    "val_loss",
    "val_nll",
    "val_kl",
    "flux_term",
    "val_flux_term",
    "latent_term",
    "val_latent_term",
    "learning_rate",
    "seconds",
)

ConfigLike = str | os.PathLike | Mapping[str, Any] | ConfigFile | None


@dataclass
class TrainResult:
    """Outcome of a training run.

    Attributes
    ----------
    out : pathlib.Path
        The output folder.
    stage : {"vae", "deblender"}
    status : {"complete", "failed"}
    epochs_completed : int
    best_epoch : int or None
        1-based epoch whose weights were kept (lowest validation loss).
    best_val_loss : float or None
        Its validation loss (nats per stamp, KL term included).
    stopped_early : bool
    history : list of dict
        One row per epoch (columns :data:`HISTORY_COLUMNS`).
    failure : str or None
        Why training failed (non-finite loss).
    """

    out: Path
    stage: str
    status: str
    epochs_completed: int
    best_epoch: int | None
    best_val_loss: float | None
    stopped_early: bool
    history: list[dict[str, float]] = field(default_factory=list)
    failure: str | None = None


# --------------------------------------------------------------------------- helpers


def default_strategy() -> tf.distribute.Strategy:
    """MirroredStrategy over all GPUs when several are visible, else the default strategy.

    The default strategy runs on the single device TensorFlow picks (a GPU if
    there is one, else the CPU). The configured ``batch_size`` is the global batch.
    """
    gpus = tf.config.list_logical_devices("GPU")
    if len(gpus) > 1:
        strategy = tf.distribute.MirroredStrategy()
        log.info("training on %d GPUs with MirroredStrategy", strategy.num_replicas_in_sync)
        return strategy
    log.info("training on one device (%s)", gpus[0].name if gpus else "CPU")
    return tf.distribute.get_strategy()


def software_versions() -> dict[str, str]:
    """Versions of the software that trains (for ``provenance.json``)."""
    from debvader_euclid import __version__

    versions = {"debvader_euclid": __version__, "python": platform.python_version()}
    for name in ("tensorflow", "tf-keras", "tensorflow-probability", "numpy"):
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def learning_rate_schedule(
    config: TrainingConfig, steps: int
) -> float | keras.optimizers.schedules.LearningRateSchedule:
    """The learning rate as a function of the optimizer step (see :class:`TrainingConfig`)."""
    if config.lr_schedule == "cosine":
        return keras.optimizers.schedules.CosineDecay(
            config.learning_rate,
            decay_steps=max(1, config.epochs * steps),
            alpha=config.lr_final_fraction,
        )
    if config.lr_schedule == "exponential":
        return keras.optimizers.schedules.ExponentialDecay(
            config.learning_rate, decay_steps=steps, decay_rate=config.lr_decay_per_epoch
        )
    return config.learning_rate


def _finite(value: Any) -> bool:
    return value is not None and math.isfinite(float(value))


def _write_history(path: Path, rows: Sequence[Mapping[str, float]]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=HISTORY_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: row.get(k, "") for k in HISTORY_COLUMNS})
    with atomic_path(path) as tmp:
        tmp.write_text(buffer.getvalue())


def _load_config(config: ConfigLike) -> ConfigFile:
    if isinstance(config, ConfigFile):
        return config
    if isinstance(config, Mapping):
        return parse_config(config, "configuration")
    return read_config_file(config)


# --------------------------------------------------------------------------- callback


class EpochCheckpoint(keras.callbacks.Callback):
    """Save everything needed to resume, plus the best weights, after each epoch.

    In this order, each file written atomically: the weight files when the
    validation loss improved (``encoder.h5``, ``decoder.h5``), ``history.csv``,
    a TensorFlow checkpoint ``checkpoints/epoch-NNNNN`` (weights, optimizer,
    latent generator), and last ``checkpoints/state.json``, which makes the epoch
    count as done. Older checkpoints are then deleted.

    It also implements early stopping (its counters live in the saved state, so
    they survive a resume) and stops on a non-finite loss without saving.

    Parameters
    ----------
    out : pathlib.Path
        Output folder.
    networks : StageNetworks
        Whose encoder and decoder weights are saved.
    checkpoint : tf.train.Checkpoint
    state : dict
        Training state, updated in place (see :func:`_initial_state`).
    patience : int
        Early-stopping patience in epochs (0: never stop early).
    min_delta : float
        Minimum validation-loss decrease that counts as an improvement.
    """

    def __init__(
        self,
        out: Path,
        networks: StageNetworks,
        checkpoint: tf.train.Checkpoint,
        state: dict[str, Any],
        patience: int,
        min_delta: float,
    ) -> None:
        super().__init__()
        self.out = out
        self.networks = networks
        self.checkpoint = checkpoint
        self.state = state
        self.patience = int(patience)
        self.min_delta = float(min_delta)
        self.failure: str | None = None
        self._started = time.monotonic()

    def on_epoch_begin(self, epoch: int, logs: Mapping[str, float] | None = None) -> None:
        self._started = time.monotonic()

    def on_epoch_end(self, epoch: int, logs: Mapping[str, float] | None = None) -> None:
        logs = dict(logs or {})
        loss, val_loss = logs.get("loss"), logs.get("val_loss")
        if not (_finite(loss) and _finite(val_loss)):
            self.failure = (
                f"non-finite loss in epoch {epoch + 1} (loss={loss}, val_loss={val_loss}); "
                "try a lower learning_rate or a clipnorm"
            )
            self.model.stop_training = True
            return
        state = self.state
        row = {
            "epoch": epoch + 1,
            "loss": float(loss),
            "nll": float(logs.get("nll", float("nan"))),
            "val_loss": float(val_loss),
            "val_nll": float(logs.get("val_nll", float("nan"))),
            "flux_term": float(logs.get("flux_term", 0.0)),
            "val_flux_term": float(logs.get("val_flux_term", 0.0)),
            "latent_term": float(logs.get("latent_term", 0.0)),
            "val_latent_term": float(logs.get("val_latent_term", 0.0)),
            "learning_rate": float(tf.convert_to_tensor(self.model.optimizer.learning_rate)),
            "seconds": round(time.monotonic() - self._started, 3),
        }
        row["kl"] = row["loss"] - row["nll"] - row["flux_term"] - row["latent_term"]
        row["val_kl"] = (
            row["val_loss"] - row["val_nll"] - row["val_flux_term"] - row["val_latent_term"]
        )

        best = state["best_val_loss"]
        if best is None or row["val_loss"] < best - self.min_delta:
            state.update(best_val_loss=row["val_loss"], best_epoch=epoch + 1, wait=0)
            artifacts.save_weights_atomic(
                self.networks.encoder, self.out / artifacts.ENCODER_WEIGHTS
            )
            artifacts.save_weights_atomic(
                self.networks.decoder, self.out / artifacts.DECODER_WEIGHTS
            )
        else:
            state["wait"] += 1
        if self.patience and state["wait"] >= self.patience:
            state["stopped_early"] = True
            self.model.stop_training = True

        state["history"].append(row)
        _write_history(self.out / artifacts.HISTORY_NAME, state["history"])
        ckpt_dir = self.out / artifacts.CHECKPOINT_DIR
        prefix = Path(self.checkpoint.write(str(ckpt_dir / f"epoch-{epoch + 1:05d}")))
        previous = state.get("checkpoint")
        state.update(epochs_completed=epoch + 1, checkpoint=prefix.name)
        write_json_atomic(ckpt_dir / STATE_NAME, state)
        if previous and previous != prefix.name:
            for old in ckpt_dir.glob(f"{previous}.*"):
                old.unlink()
        log.info(
            "epoch %d/%d: loss %.4g, val_loss %.4g (best %.4g at epoch %d)%s",
            epoch + 1,
            self.params.get("epochs", 0),
            row["loss"],
            row["val_loss"],
            state["best_val_loss"],
            state["best_epoch"],
            "; stopping early" if state["stopped_early"] else "",
        )


def _initial_state() -> dict[str, Any]:
    return {
        "epochs_completed": 0,
        "best_val_loss": None,
        "best_epoch": None,
        "wait": 0,
        "stopped_early": False,
        "checkpoint": None,
        "history": [],
    }


def _read_state(out: Path) -> dict[str, Any] | None:
    path = out / artifacts.CHECKPOINT_DIR / STATE_NAME
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON: {err}; delete {out} and start again") from err


# --------------------------------------------------------------------------- fine-tuning


def _check_init_encoder(
    folder: str | os.PathLike, model: ModelConfig, vae_provenance: Mapping[str, Any]
) -> tuple[StageNetworks, dict[str, Any]]:
    """Load the deblender that starts a fine-tuning run; check it fits this run.

    Returns its networks and the record kept in ``provenance.json``: the folder, the SHA-256
    of its weights, its command line, best epoch and training data (manifest and content
    SHA-256 and shards, so that evaluation can tell the data any run of the chain saw), and,
    when it was itself started from another deblender, that deblender's record under
    ``init_encoder`` (so the chain of runs is complete however many times a model is
    fine-tuned).
    """
    networks, info = artifacts.load_stage(folder, expected_stage="deblender", verify=True)
    theirs = info["model"]
    plain_to_psf = model.psf_input and not theirs.psf_input
    adds_readout = bool(model.psf_readout_rank) and not theirs.psf_readout_rank
    if plain_to_psf:  # a PSF-conditioned run may start from a plain deblender
        theirs = theirs.replace(**{key: getattr(model, key) for key in PSF_KEYS})
    elif adds_readout:  # ... and a PSF read-out may be added to a PSF-conditioned one
        theirs = theirs.replace(psf_readout_rank=model.psf_readout_rank)
    if theirs != model:
        theirs_dict, ours = theirs.to_dict(), model.to_dict()
        differ = sorted(
            k for k in set(ours) | set(theirs_dict) if theirs_dict.get(k) != ours.get(k)
        )
        raise ValueError(
            f"--init-encoder {folder}: its model configuration differs from this run's in "
            f"{', '.join(differ)}; give the same model section (its config.json works as --config)"
            + (
                "; a plain deblender cannot start from a PSF-conditioned one"
                if info["model"].psf_input and not model.psf_input
                else "; a deblender without psf_readout_rank cannot start from one with it"
                if info["model"].psf_readout_rank and not model.psf_readout_rank
                else ""
            )
        )
    init_provenance = info["provenance"]
    decoder_sha = init_provenance.get("files", {}).get(artifacts.DECODER_WEIGHTS)
    vae_decoder_sha = vae_provenance.get("files", {}).get(artifacts.DECODER_WEIGHTS)
    if decoder_sha is None or decoder_sha != vae_decoder_sha:
        raise ValueError(
            f"--init-encoder {folder} was trained on another stage-1 decoder (SHA-256 "
            f"{str(decoder_sha)[:12]}..., --vae has {str(vae_decoder_sha)[:12]}...): its "
            "encoder maps blends to another latent space; give a deblender trained with this --vae"
        )
    record = {
        "folder": str(Path(folder).resolve()),
        "files": init_provenance.get("files", {}),
        "command_line": init_provenance.get("command_line"),
        "best_epoch": init_provenance.get("best_epoch"),
        "data": init_provenance.get("data", {}),
    }
    if "init_encoder" in init_provenance:
        # a fine-tuning of a fine-tuning: keep the whole chain back to the first run
        record["init_encoder"] = init_provenance["init_encoder"]
    return networks, record


def copy_encoder_weights(source: keras.Model, target: keras.Model) -> None:
    """Copy a blend encoder's weights into another, layer by layer (by name).

    The target may be a PSF-conditioned version of the source: its PSF layers
    (modulation, read-out correction), which the source lacks, keep their initial
    weights, which make them do nothing, so the target starts out computing exactly
    what the source did.
    """
    mine = {layer.name: layer for layer in source.layers}
    for layer in target.layers:
        if layer.name in mine and layer.weights:
            layer.set_weights(mine[layer.name].get_weights())
        elif layer.weights and not layer.name.startswith("psf"):
            raise ValueError(f"--init-encoder has no layer {layer.name!r} to copy weights from")


# --------------------------------------------------------------------------- output folder


def _prepare_output(
    out: Path,
    stage: str,
    model: ModelConfig,
    training: TrainingConfig,
    split: DataSplit,
    resume: bool,
    overwrite: bool,
    vae_files: Mapping[str, str] | None = None,
) -> dict[str, Any] | None:
    """Check ``out`` and return the resume state (None when starting afresh)."""
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"output {out} exists and is not a folder")
    non_empty = out.is_dir() and any(out.iterdir())
    if resume and non_empty and (out / artifacts.CONFIG_NAME).is_file():
        stored_stage, stored_model, stored_training = artifacts.read_config(out)
        if stored_stage != stage:
            raise ValueError(f"cannot resume: {out} holds a {stored_stage!r} run, not {stage!r}")
        if stored_model != model or stored_training != training:
            raise ValueError(
                f"cannot resume: the configuration differs from the one in "
                f"{out / artifacts.CONFIG_NAME}; resume without --config (the stored one is "
                "used) or with the same configuration"
            )
        provenance = artifacts.read_provenance(out)
        data = provenance.get("data", {})
        for role, part in (("train", split.train), ("validation", split.validation)):
            # The content hash recognises identical data regenerated since the run began;
            # runs that predate it recorded the manifest-file hash only.
            key = "content_sha256" if "content_sha256" in data.get(role, {}) else "manifest_sha256"
            stored = data.get(role, {}).get(key)
            current = getattr(part, key)
            if stored is not None and stored != current:
                what = "content SHA-256" if key == "content_sha256" else "manifest SHA-256"
                raise ValueError(
                    f"cannot resume: the {role} data ({part.folder}) is not the data set the run "
                    f"started with ({what} {current[:12]}..., expected {stored[:12]}...)"
                )
        stored_vae = provenance.get("vae", {}).get("files")
        if stored_vae is not None and vae_files is not None and dict(vae_files) != stored_vae:
            raise ValueError(
                "cannot resume: the weights of the stage-1 folder changed since this run "
                "started; start a new deblender run (--overwrite or another --out)"
            )
        return _read_state(out) or None
    if non_empty and not resume:
        if not overwrite:
            raise FileExistsError(
                f"output folder {out} is not empty: use --resume to continue the run in it, "
                "--overwrite to replace it, or another --out"
            )
        if not (out / artifacts.CONFIG_NAME).is_file():
            raise FileExistsError(
                f"refusing to --overwrite {out}: it is not empty and holds no "
                f"{artifacts.CONFIG_NAME}, so it is not a training output folder"
            )
        log.warning("--overwrite: deleting the previous run in %s", out)
        shutil.rmtree(out)
    elif non_empty and resume:
        raise FileExistsError(
            f"cannot resume: {out} is not empty but holds no {artifacts.CONFIG_NAME}"
        )
    return None


# --------------------------------------------------------------------------- public API


def train_vae(
    data: str | os.PathLike,
    out: str | os.PathLike,
    config: ConfigLike = None,
    **kwargs: Any,
) -> TrainResult:
    """Stage 1: train the VAE on noisy -> noiseless isolated stamps.

    Parameters
    ----------
    data : path-like
        "isolated" data set folder (TFRecord shards + manifest).
    out : path-like
        Output folder (see :mod:`.artifacts`).
    config : path-like, mapping or ConfigFile, optional
        Configuration file or its content (``{"model": ..., "training": ...}``).
        Without ``stamp_size`` in the model section, the data's stamp size is used.
    **kwargs
        See :func:`train_stage`.

    Returns
    -------
    TrainResult
    """
    return train_stage("vae", data, out, config=config, **kwargs)


def train_deblender(
    vae: str | os.PathLike,
    data: str | os.PathLike,
    out: str | os.PathLike,
    config: ConfigLike = None,
    **kwargs: Any,
) -> TrainResult:
    """Stage 2: train a fresh encoder on blends into the frozen stage-1 decoder.

    Parameters
    ----------
    vae : path-like
        Finished output folder of :func:`train_vae`.
    data : path-like
        "blended" data set folder.
    out : path-like
        Output folder.
    config : path-like, mapping or ConfigFile, optional
        Its ``model`` section may only change ``kl_weight`` and ``encoder_filters``
        (the blend encoder's widths; the decoder is the frozen stage-1 one).
    **kwargs
        See :func:`train_stage`.

    Returns
    -------
    TrainResult
    """
    return train_stage("deblender", data, out, config=config, vae=vae, **kwargs)


def train_stage(
    stage: str,
    data: str | os.PathLike,
    out: str | os.PathLike,
    config: ConfigLike = None,
    vae: str | os.PathLike | None = None,
    init_encoder: str | os.PathLike | None = None,
    val_data: str | os.PathLike | None = None,
    resume: bool = False,
    overwrite: bool = False,
    verify_data: bool = False,
    command_line: Sequence[str] | None = None,
    strategy: tf.distribute.Strategy | None = None,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    verbose: int | None = None,
) -> TrainResult:
    """Train one stage; every input is checked before training starts.

    Parameters
    ----------
    stage : {"vae", "deblender"}
    data : path-like
        Training data set folder.
    out : path-like
        Output folder; must be new or empty unless ``resume`` or ``overwrite``.
    config : path-like, mapping or ConfigFile, optional
        Configuration (defaults when None; when resuming, the stored one).
    vae : path-like, optional
        Stage-1 folder (stage 2 only).
    init_encoder : path-like, optional
        Stage 2 only: a finished deblender folder whose blend-encoder weights
        start this run (fine-tuning). It must have the same model configuration
        and have been trained on the same stage-1 decoder (checked by SHA-256);
        its folder and weight checksums are recorded in ``provenance.json``.
    val_data : path-like, optional
        Separate validation data set (else held-out shards, see :mod:`.data`).
    resume : bool
        Continue the run in ``out`` from its last checkpoint (starts afresh if
        there is none); a finished run is left as it is.
    overwrite : bool
        Delete a previous run in ``out`` first.
    verify_data : bool
        Check the SHA-256 of every shard before training.
    command_line : sequence of str, optional
        Recorded in ``provenance.json`` (default: ``sys.argv``).
    strategy : tf.distribute.Strategy, optional
        Default: :func:`default_strategy`.
    callbacks : sequence of tf_keras.callbacks.Callback
        Extra callbacks, run after the checkpointing one.
    verbose : int, optional
        Keras progress display: 1 progress bar, 2 one line per epoch, 0 none
        (default: 1 on a terminal, else 2).

    Returns
    -------
    TrainResult

    Raises
    ------
    FileNotFoundError, FileExistsError, ValueError
        Bad input (missing data or stage-1 folder, wrong data kind, stamp-size
        mismatch, unfinished stage-1 folder, non-empty output...), before training.
    KeyboardInterrupt
        Passed on after the last completed epoch has been checkpointed.

    Notes
    -----
    Sets TensorFlow's, numpy's and Python's global seeds from
    ``training.seed`` (``tf_keras.utils.set_random_seed``) before building the
    networks. The validation loss, like the training loss, decodes a latent draw
    (seeded and checkpointed); predictions of a loaded stage decode the mean.
    """
    out = Path(out)
    if stage not in ("vae", "deblender"):
        raise ValueError(f"unknown stage {stage!r}")
    if (vae is None) != (stage == "vae"):
        raise ValueError("a stage-1 folder (vae) is needed for, and only for, the deblender")
    if resume and config is None and (out / artifacts.CONFIG_NAME).is_file():
        stored_stage, stored_model, stored_training = artifacts.read_config(out)
        config = ConfigFile(model=stored_model.to_dict(), training=stored_training)
    cfg = _load_config(config)
    training = cfg.training

    # ---- checks, all before any training ------------------------------------
    training.check_stage(stage)
    vae_networks: StageNetworks | None = None
    vae_provenance: dict[str, Any] = {}
    if stage == "deblender":
        vae_networks, vae_info = artifacts.load_stage(vae, expected_stage="vae")
        vae_provenance = vae_info["provenance"]
        model = resolve_stage2_model(vae_info["model"], cfg.model)
    if stage == "deblender" and model.psf_input and training.latent_weight > 0:
        raise ValueError(
            "model.psf_input and training.latent_weight > 0 cannot be combined: the latent "
            "term compares with the stage-1 encoder, which is not given the PSF"
        )
    init_networks, init_record = None, None
    if init_encoder is not None:
        if stage != "deblender":
            raise ValueError("init_encoder (--init-encoder) is for the deblender stage only")
        init_networks, init_record = _check_init_encoder(init_encoder, model, vae_provenance)
    split = split_data(stage, data, val_data, training.val_fraction, verify=verify_data)
    if stage == "vae":
        model = resolve_stage1_model(cfg.model, split.stamp_size)
    elif model.stamp_size != split.stamp_size:
        raise ValueError(
            f"stamp-size mismatch: the VAE in {vae} works on {model.stamp_size}-pixel stamps "
            f"but the blended data {data} has {split.stamp_size}-pixel stamps"
        )
    state = _prepare_output(
        out, stage, model, training, split, resume, overwrite, vae_provenance.get("files")
    )

    # ---- output folder -------------------------------------------------------
    out.mkdir(parents=True, exist_ok=True)
    (out / artifacts.CHECKPOINT_DIR).mkdir(exist_ok=True)
    artifacts.write_config(out, stage, model, training)
    provenance = artifacts.read_provenance(out) if state else {}
    if provenance.get("status") == artifacts.STATUS_COMPLETE:
        log.info("%s already holds a complete %s run: nothing to do", out, stage)
        return _result(out, stage, provenance, state or _initial_state())
    command = list(command_line) if command_line is not None else list(sys.argv)
    now = utc_now()
    if not provenance:
        provenance = {
            "format_version": FORMAT_VERSION,
            "stage": stage,
            "started_utc": now,
            "command_line": command,
            "data": {
                "train": split.train.provenance(),
                "validation": split.validation.provenance(),
            },
            "software": software_versions(),
        }
        if stage == "deblender":
            provenance["vae"] = {
                "folder": str(Path(vae).resolve()),
                "files": vae_provenance.get("files", {}),
                "data": vae_provenance.get("data", {}),
            }
        if init_record is not None:
            provenance["init_encoder"] = init_record
    else:
        provenance.setdefault("resumed", []).append(
            {
                "utc": now,
                "command_line": command,
                "from_epoch": (state or {}).get("epochs_completed", 0),
            }
        )
    provenance.update(status=artifacts.STATUS_RUNNING)
    provenance.pop("failure", None)
    artifacts.write_provenance(out, provenance)

    initial_epoch = int(state["epochs_completed"]) if state else 0
    if state and (initial_epoch >= training.epochs or state.get("stopped_early")):
        log.info("the run in %s had finished its epochs: recording it as complete", out)
        return _finish(out, stage, provenance, state, None)

    # ---- networks, optimizer, checkpoint ------------------------------------
    keras.utils.set_random_seed(training.seed)
    strategy = strategy or default_strategy()
    normalizer = ArcsinhNormalizer(model.normalization_scale)
    whole_batches = strategy.num_replicas_in_sync > 1
    weights = loss_weights(split, training)
    if weights is not None:
        provenance["loss_weights"] = weights.to_dict()
        artifacts.write_provenance(out, provenance)
    train_psfs = val_psfs = None
    if model.psf_input:
        train_psfs = ShardPSFs.for_part(split.train, model)
        val_psfs = ShardPSFs.for_part(split.validation, model)
    train_ds, steps = training_dataset(
        split, training, normalizer, initial_epoch, whole_batches, weights, train_psfs
    )
    latent_matching = training.latent_weight > 0
    val_ds = validation_dataset(
        split,
        training.batch_size,
        normalizer,
        whole_batches,
        central_input=latent_matching,
        psfs=val_psfs,
    )
    with strategy.scope():
        sampler = LatentSampler(training.seed + (0 if stage == "vae" else 1))
        networks = artifacts.build_stage_networks(stage, model, sampler, seed=training.seed)
        if vae_networks is not None:
            networks.decoder.set_weights(vae_networks.decoder.get_weights())
        if init_networks is not None:
            copy_encoder_weights(init_networks.encoder, networks.encoder)
            log.info("blend encoder initialised from %s", init_record["folder"])
        if latent_matching:
            train_model = connect_with_latent_matching(
                networks.encoder,
                networks.decoder,
                vae_networks.encoder,
                model.latent_dim,
                training.latent_weight,
                training.latent_std_floor,
                name=stage,
            )
        else:
            train_model = connect(networks.encoder, networks.decoder, name=stage)
        optimizer = keras.optimizers.Adam(
            learning_rate_schedule(training, steps), clipnorm=training.clipnorm
        )
        nll = PixelGaussianNLL(
            model, flux_weight=training.flux_weight, flux_residual=training.flux_residual
        )
        metrics = [keras.metrics.MeanMetricWrapper(nll.pixel_nll, name="nll")]
        if training.flux_weight > 0:
            metrics.append(keras.metrics.MeanMetricWrapper(nll.flux_term, name="flux_term"))
        train_model.compile(optimizer=optimizer, loss=nll, metrics=metrics)
        optimizer.build(train_model.trainable_variables)
        checkpoint = tf.train.Checkpoint(
            model=train_model, optimizer=optimizer, latent_rng=sampler.generator
        )
        if state:
            prefix = out / artifacts.CHECKPOINT_DIR / state["checkpoint"]
            checkpoint.read(str(prefix)).assert_existing_objects_matched()
            log.info("resuming %s from the end of epoch %d (%s)", stage, initial_epoch, prefix)
    state = state or _initial_state()

    saver = EpochCheckpoint(
        out,
        networks,
        checkpoint,
        state,
        patience=training.early_stopping_patience,
        min_delta=training.early_stopping_min_delta,
    )
    all_callbacks = [
        keras.callbacks.TerminateOnNaN(),
        saver,
        keras.callbacks.TensorBoard(
            log_dir=str(out / artifacts.LOG_DIR),
            histogram_freq=0,
            write_graph=False,
            update_freq="epoch",
            profile_batch=0,
        ),
        *callbacks,
    ]
    if verbose is None:
        verbose = 1 if sys.stdout.isatty() else 2
    log.info(
        "training %s: %d epochs of %d steps (batch %d), %s trainable weights, output %s",
        stage,
        training.epochs - initial_epoch,
        steps,
        training.batch_size,
        f"{sum(int(tf.size(v)) for v in train_model.trainable_variables):,}",
        out,
    )
    try:
        train_model.fit(
            train_ds,
            epochs=training.epochs,
            initial_epoch=initial_epoch,
            steps_per_epoch=steps,
            validation_data=val_ds,
            callbacks=all_callbacks,
            verbose=verbose,
        )
    except KeyboardInterrupt:
        log.error(
            "interrupted after %d complete epoch(s); resume with --resume",
            state["epochs_completed"],
        )
        raise
    return _finish(out, stage, provenance, state, saver.failure)


def _finish(
    out: Path,
    stage: str,
    provenance: dict[str, Any],
    state: Mapping[str, Any],
    failure: str | None,
) -> TrainResult:
    provenance.update(
        finished_utc=utc_now(),
        epochs_completed=state["epochs_completed"],
        best_epoch=state["best_epoch"],
        best_val_loss=state["best_val_loss"],
        stopped_early=state["stopped_early"],
    )
    if failure is not None or state["best_epoch"] is None:
        provenance.update(status=artifacts.STATUS_FAILED, failure=failure or "no epoch completed")
        log.error("training %s failed: %s", stage, provenance["failure"])
    else:
        provenance.update(status=artifacts.STATUS_COMPLETE, files=artifacts.weight_hashes(out))
        log.info(
            "finished training %s: best validation loss %.4g at epoch %d; weights in %s",
            stage,
            state["best_val_loss"],
            state["best_epoch"],
            out,
        )
    artifacts.write_provenance(out, provenance)
    return _result(out, stage, provenance, state)


def _result(
    out: Path, stage: str, provenance: Mapping[str, Any], state: Mapping[str, Any]
) -> TrainResult:
    return TrainResult(
        out=out,
        stage=stage,
        status=provenance.get("status", artifacts.STATUS_RUNNING),
        epochs_completed=int(state["epochs_completed"]),
        best_epoch=state["best_epoch"],
        best_val_loss=state["best_val_loss"],
        stopped_early=bool(state["stopped_early"]),
        history=list(state["history"]),
        failure=provenance.get("failure"),
    )
