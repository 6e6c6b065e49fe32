"""Training configuration and the JSON configuration file of ``train vae`` / ``train deblender``.

A configuration file (``--config FILE``) is a JSON object with up to two sections,
each partial (defaults fill the rest)::

    {
      "model":    {"latent_dim": 32, "filters": [32, 64, 128, 256], ...},
      "training": {"epochs": 30, "batch_size": 64, ...}
    }

``model`` keys are those of :class:`debvader_euclid.models.ModelConfig`, ``training``
keys those of :class:`TrainingConfig`. The ``config.json`` that training writes into
its output folder has the same layout (plus ``stage`` and ``format_version``), so it
can be given back as ``--config`` to repeat a run.

Stage 2 (``train deblender``) takes its architecture from the stage-1 folder: its
``model`` section may only change :data:`STAGE2_MODEL_KEYS`.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from debvader_euclid.models.config import FLUX_RESIDUALS, ModelConfig, check_keys

#: Learning-rate schedules (see :class:`TrainingConfig`).
LR_SCHEDULES = ("constant", "cosine", "exponential")

#: Model keys a stage-2 configuration may set (they do not touch the frozen decoder).
STAGE2_MODEL_KEYS = frozenset(
    {
        "kl_weight",
        "encoder_filters",
        "psf_input",
        "psf_radii_pixels",
        "psf_reference",
        "psf_readout_rank",
    }
)

#: Training options that act on blends (their neighbour or central galaxy) only.
STAGE2_ONLY = ("neighbour_dropout", "neighbour_swap", "latent_weight")

#: Top-level keys of a configuration file.
CONFIG_FILE_KEYS = ("model", "training", "stage", "format_version")

#: Version of the layout of ``config.json`` and ``provenance.json``.
FORMAT_VERSION = 1


@dataclass(frozen=True)
class TrainingConfig:
    """How one stage is trained.

    Attributes
    ----------
    seed : int
        Master seed: initial weights, shard order, shuffling, augmentation and
        latent draws all derive from it, so a run is reproducible.
    batch_size : int
        Global batch size (split across replicas under a multi-device strategy).
    epochs : int
        Maximum number of epochs.
    steps_per_epoch : int or None
        Batches per epoch; None for one full pass over the training shards
        (``ceil(n_train / batch_size)``). Larger values are clipped to a full pass.
    learning_rate : float
        Initial Adam learning rate.
    lr_schedule : {"constant", "cosine", "exponential"}
        ``cosine``: cosine decay over ``epochs * steps_per_epoch`` steps down to
        ``learning_rate * lr_final_fraction``; ``exponential``: multiplied by
        ``lr_decay_per_epoch`` every epoch (continuously per step); ``constant``.
        The schedule is a function of the optimizer step, which the checkpoint
        saves, so a resumed run follows it exactly.
    lr_final_fraction : float
        Final / initial learning rate of the cosine schedule.
    lr_decay_per_epoch : float
        Factor per epoch of the exponential schedule.
    clipnorm : float or None
        Clip each gradient to this norm; None for no clipping.
    early_stopping_patience : int
        Stop after this many epochs without a validation-loss improvement larger
        than ``early_stopping_min_delta``; 0 disables early stopping.
    early_stopping_min_delta : float
        Minimum decrease of the validation loss (nats per stamp) that counts as an
        improvement.
    shuffle_buffer : int
        Examples held in the shuffle buffer (memory: ~``2 * 4 * S**2`` bytes
        each, 32 kiB for 64-pixel stamps).
    augment : bool
        Random rotations by multiples of 90 degrees and flips (the 8 symmetries of
        the square), applied identically to input and target.
    val_fraction : float
        Fraction of the shards held out for validation when no separate
        validation data set is given: the last ``max(1, round(val_fraction *
        n_shards))`` shards (by index). A data set with a single shard needs a
        separate validation data set.
    magnitude_balance : float
        Exponent ``alpha`` of the magnitude-balancing loss weights, in [0, 1]; 0
        (default) trains on the data as drawn. Galaxy counts rise steeply towards
        faint magnitudes, so a network sees few bright galaxies (the paper's ~10 %
        bright-end flux deficit). With ``alpha > 0`` each training example's loss
        is weighted by ``w = (n(m) / n_mean) ** -alpha``, ``n(m)`` the number of
        training examples in the ``magnitude_bin_width``-wide bin of the central
        galaxy's true VIS magnitude, clipped to ``[1 / max_balance_weight,
        max_balance_weight]`` and scaled to a mean of 1 over the training set.
        ``alpha = 1`` weights every bin equally, ``0.5`` half-way (in log) between.
        Validation losses are never weighted, so they stay comparable between runs.
    magnitude_bin_width : float
        Width of the magnitude bins of ``magnitude_balance``, AB mag.
    max_balance_weight : float
        Largest weight (and inverse of the smallest) before the mean is set to 1.
    blendedness_boost : float
        Stage 2 only: multiply each blend's loss weight by ``1 + blendedness_boost *
        b``, ``b`` its blendedness (0: off), then scale the weights to a mean of 1.
        Strongly blended pairs (the faint central beside a much brighter neighbour
        that dominates the flux-residual scatter) are rare; this gives them more say.
    flux_weight : float
        Weight ``lambda`` of the flux term added to each example's loss,
        ``lambda * ((F_true - F_pred) / F_true)**2`` with ``F`` the summed flux (uJy)
        of the target and of the decoded mean (see :mod:`debvader_euclid.models.losses`);
        0 (default) trains on the pixel likelihood alone. The validation loss
        includes it, so the best epoch is chosen on the same objective.
    flux_residual : {"relative", "symmetric"}
        Form of ``r`` in the flux term: ``(F_true - F_pred) / F_true`` or
        ``(F_true - F_pred) / sqrt(F_true F_pred)`` (symmetric in the log of the flux
        ratio, so it does not pull fluxes low; see :mod:`debvader_euclid.models.losses`).
    neighbour_dropout : float
        Stage 2 only: probability, in [0, 1), that a training blend is shown without
        its neighbour (input ``blend_noisy - neighbour_noiseless``: the central galaxy
        with the blend's own noise), drawn per example from stateless seeds; 0
        (default): never. A deblender trained on blends alone learns to take some
        light away even from a stamp whose neighbour has been subtracted (see
        :mod:`debvader_euclid.neighbours`); this teaches it to keep that light.
        Validation blends are never changed. Tried once, not used by the shipped
        models (``configs/README.md``).
    neighbour_swap : float
        Stage 2 only: probability, in [0, 1], that a training blend's neighbour is
        replaced by the neighbour of another blend of the same batch, turned by a
        random one of the 8 rotations and flips about the stamp centre (input
        ``blend_noisy - neighbour_noiseless + other_neighbour``: the central galaxy and
        its own noise, a new neighbour); 0 (default): never. The data sets draw each
        neighbour independently of its central galaxy (:mod:`data_generation.pipeline`),
        so swapped pairs follow the same distribution, up to the central galaxy's
        sub-pixel offset (at most 0.5 pixel per axis) and one pixel from the turn, while
        the network sees new pairs every epoch instead of the same ones. Cannot be used
        with ``blendedness_boost``, whose weights belong to the original pairs.
        Validation blends are never changed.
    noise_scale_range : (float, float)
        Smallest and largest factor by which the pixel noise of a training input is
        scaled, drawn per example log-uniformly between them from stateless seeds;
        ``(1, 1)`` (default): the data set's noise as it is. The noise of an example is
        exactly known (input minus its noiseless galaxies), so ``clean + s * noise`` is
        the same scene with Gaussian noise of ``s`` times the data set's sigma. A network
        trained at one noise level misjudges the light of faint outskirts at another (an
        m_lim = 27.1 defined in a 1.3-arcsec aperture instead of PSF-optimally gives a
        third of the noise, a survey 0.6 mag shallower 1.74 times as much); training over
        a range of levels teaches it to read the level from the stamp. Validation
        inputs are never changed.
    latent_weight : float
        Stage 2 only: weight ``mu`` of a latent-matching term added to each example's
        loss, ``mu * 0.5 * sum_k (m_k - t_k)**2 / (s_k**2 + tau**2)`` over the latent
        dimensions,
        with ``m`` the blend encoder's posterior mean for the blend and ``t``, ``s``
        the frozen stage-1 encoder's posterior mean and standard deviation for the same
        central galaxy without its neighbour (input ``blend - neighbour_noiseless``:
        the central galaxy with the blend's own noise, after every augmentation above).
        The stage-1 encoder was trained with the decoder and reads the isolated galaxy
        far better than the pixel loss alone teaches the blend encoder to; this term
        shows the blend encoder where that reading lies. 0 (default): off. The
        validation loss includes it (:mod:`debvader_euclid.models.latent_matching`).
    latent_std_floor : float
        ``tau`` >= 0 of the latent-matching term, in latent units: added in quadrature
        to the stage-1 posterior standard deviation ``s``, so that the dimensions a
        bright galaxy pins down to a few hundredths do not swamp the term.
    """

    seed: int = 0
    batch_size: int = 64
    epochs: int = 25
    steps_per_epoch: int | None = None
    learning_rate: float = 1e-3
    lr_schedule: str = "cosine"
    lr_final_fraction: float = 0.05
    lr_decay_per_epoch: float = 0.9
    clipnorm: float | None = None
    early_stopping_patience: int = 5
    early_stopping_min_delta: float = 0.0
    shuffle_buffer: int = 4096
    augment: bool = True
    val_fraction: float = 0.1
    magnitude_balance: float = 0.0
    magnitude_bin_width: float = 0.5
    max_balance_weight: float = 10.0
    blendedness_boost: float = 0.0
    flux_weight: float = 0.0
    flux_residual: str = "relative"
    neighbour_dropout: float = 0.0
    neighbour_swap: float = 0.0
    noise_scale_range: tuple[float, float] = (1.0, 1.0)
    latent_weight: float = 0.0
    latent_std_floor: float = 1.0

    def __post_init__(self) -> None:
        # JSON gives a list; the configuration keeps a tuple (hashable, like the rest)
        scale = self.noise_scale_range
        if not (isinstance(scale, (list, tuple)) and len(scale) == 2):
            raise ValueError(
                "noise_scale_range must be a pair [smallest, largest] of noise factors, "
                f"got {scale!r}"
            )
        object.__setattr__(self, "noise_scale_range", (float(scale[0]), float(scale[1])))
        self.validate()

    def validate(self) -> None:
        """Raise ValueError naming the first invalid field."""
        if int(self.batch_size) < 1:
            raise ValueError(f"batch_size must be positive, got {self.batch_size}")
        if int(self.epochs) < 1:
            raise ValueError(f"epochs must be positive, got {self.epochs}")
        if self.steps_per_epoch is not None and int(self.steps_per_epoch) < 1:
            raise ValueError(
                f"steps_per_epoch must be positive or null, got {self.steps_per_epoch}"
            )
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be positive, got {self.learning_rate}")
        if self.lr_schedule not in LR_SCHEDULES:
            choices = ", ".join(LR_SCHEDULES)
            raise ValueError(f"unknown lr_schedule {self.lr_schedule!r}: expected one of {choices}")
        if not 0 <= self.lr_final_fraction <= 1:
            raise ValueError(f"lr_final_fraction must be in [0, 1], got {self.lr_final_fraction}")
        if not 0 < self.lr_decay_per_epoch <= 1:
            raise ValueError(f"lr_decay_per_epoch must be in (0, 1], got {self.lr_decay_per_epoch}")
        if self.clipnorm is not None and not self.clipnorm > 0:
            raise ValueError(f"clipnorm must be positive or null, got {self.clipnorm}")
        if int(self.early_stopping_patience) < 0:
            raise ValueError(
                f"early_stopping_patience must be >= 0, got {self.early_stopping_patience}"
            )
        if not self.early_stopping_min_delta >= 0:
            raise ValueError(
                f"early_stopping_min_delta must be >= 0, got {self.early_stopping_min_delta}"
            )
        if int(self.shuffle_buffer) < 1:
            raise ValueError(f"shuffle_buffer must be positive, got {self.shuffle_buffer}")
        if not 0 < self.val_fraction < 1:
            raise ValueError(f"val_fraction must be in (0, 1), got {self.val_fraction}")
        if not 0 <= self.magnitude_balance <= 1:
            raise ValueError(
                f"magnitude_balance must be in [0, 1] (0: no weights, 1: every magnitude bin "
                f"weighted equally), got {self.magnitude_balance}"
            )
        if not self.magnitude_bin_width > 0:
            raise ValueError(
                f"magnitude_bin_width must be positive (AB mag), got {self.magnitude_bin_width}"
            )
        if not self.max_balance_weight >= 1:
            raise ValueError(f"max_balance_weight must be >= 1, got {self.max_balance_weight}")
        if not self.blendedness_boost >= 0:
            raise ValueError(f"blendedness_boost must be >= 0, got {self.blendedness_boost}")
        if not (math.isfinite(self.flux_weight) and self.flux_weight >= 0):
            raise ValueError(
                f"flux_weight must be a finite number >= 0 (0: pixel likelihood only), "
                f"got {self.flux_weight}"
            )
        if self.flux_residual not in FLUX_RESIDUALS:
            raise ValueError(
                f"flux_residual must be one of {', '.join(FLUX_RESIDUALS)}, "
                f"got {self.flux_residual!r}"
            )
        if not 0 <= self.neighbour_dropout < 1:
            raise ValueError(
                f"neighbour_dropout must be in [0, 1) (the fraction of training blends "
                f"shown without their neighbour), got {self.neighbour_dropout}"
            )
        if not 0 <= self.neighbour_swap <= 1:
            raise ValueError(
                f"neighbour_swap must be in [0, 1] (the fraction of training blends "
                f"given another blend's neighbour), got {self.neighbour_swap}"
            )
        low, high = self.noise_scale_range
        if not (math.isfinite(high) and 0 < low <= high):
            raise ValueError(
                "noise_scale_range must be a pair of finite factors 0 < smallest <= largest "
                f"(e.g. [0.33, 2.0]; [1, 1] leaves the noise alone), got {self.noise_scale_range}"
            )
        if not (math.isfinite(self.latent_weight) and self.latent_weight >= 0):
            raise ValueError(
                "latent_weight must be a finite number >= 0 (0: no latent-matching term), "
                f"got {self.latent_weight}"
            )
        if not (math.isfinite(self.latent_std_floor) and self.latent_std_floor >= 0):
            raise ValueError(
                "latent_std_floor must be a finite number >= 0 (latent units), "
                f"got {self.latent_std_floor}"
            )
        if self.neighbour_swap > 0 and self.blendedness_boost > 0:
            raise ValueError(
                "neighbour_swap cannot be combined with blendedness_boost: the boost "
                "weights each blend by the blendedness of its original pair; set one of "
                "them to 0"
            )

    def check_stage(self, stage: str) -> None:
        """Raise ValueError if an option of :data:`STAGE2_ONLY` is on for the VAE.

        Parameters
        ----------
        stage : {"vae", "deblender"}
        """
        if stage == "deblender":
            return
        for name in STAGE2_ONLY:
            if getattr(self, name) > 0:
                raise ValueError(
                    f"{name} applies to the deblender (stage 2, blended data sets) only: "
                    "set it to 0 to train the VAE"
                )

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON dictionary."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, payload: Mapping[str, Any]) -> TrainingConfig:
        """Build from a (possibly partial) dictionary; ValueError on unknown keys."""
        return cls(**check_keys(cls, payload, "training configuration"))

    def replace(self, **changes: Any) -> TrainingConfig:
        """A copy with some fields changed (validated)."""
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class ConfigFile:
    """The parsed content of a ``--config`` file.

    Attributes
    ----------
    model : dict
        The keys given in the ``model`` section (not yet merged with defaults).
    training : TrainingConfig
        Defaults updated with the ``training`` section.
    path : pathlib.Path or None
        Where it was read from (None for defaults).
    """

    model: dict[str, Any]
    training: TrainingConfig
    path: Path | None = None


def read_config_file(path: str | os.PathLike | None) -> ConfigFile:
    """Read and validate a configuration file; defaults for ``path=None``.

    Parameters
    ----------
    path : path-like or None
        JSON file (see the module docstring).

    Returns
    -------
    ConfigFile

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If it is not JSON, has unknown keys, or invalid values.
    """
    if path is None:
        return ConfigFile(model={}, training=TrainingConfig())
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"configuration file {path} does not exist")
    try:
        payload = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"configuration file {path} is not valid JSON: {err}") from err
    return parse_config(payload, f"configuration file {path}", path)


def parse_config(
    payload: Mapping[str, Any], source: str = "configuration", path: Path | None = None
) -> ConfigFile:
    """Validate the content of a configuration file.

    Parameters
    ----------
    payload : mapping
        ``{"model": {...}, "training": {...}}``, both sections optional.
    source : str
        Name used in error messages.
    path : pathlib.Path, optional
        Recorded in the result.

    Returns
    -------
    ConfigFile

    Raises
    ------
    ValueError
        On unknown sections or keys, or invalid values.
    """
    if not isinstance(payload, Mapping):
        raise ValueError(f"{source} must hold a JSON object")
    unknown = sorted(set(payload) - set(CONFIG_FILE_KEYS))
    if unknown:
        raise ValueError(
            f"{source}: unknown section(s) {', '.join(map(repr, unknown))}; "
            f"valid sections are 'model' and 'training'"
        )
    try:
        model = check_keys(ModelConfig, payload.get("model") or {}, "model configuration")
        # Validate now, with defaults for the rest; the stamp size may come from the data.
        # A stage-2 section may give encoder_filters alone: its levels are the VAE's.
        probe = dict(model)
        if "filters" not in probe and probe.get("encoder_filters") is not None:
            probe["filters"] = probe["encoder_filters"]
            probe.setdefault("kernel_sizes", [3] * len(probe["filters"]))
        levels = len(probe.get("filters", ModelConfig.filters))
        ModelConfig.from_dict({"stamp_size": max(64, 2**levels), **probe})
        training = TrainingConfig.from_dict(payload.get("training") or {})
    except (TypeError, ValueError) as err:
        raise ValueError(f"{source}: {err}") from err
    return ConfigFile(model=model, training=training, path=path)


def resolve_stage1_model(section: Mapping[str, Any], data_stamp_size: int) -> ModelConfig:
    """The stage-1 model configuration for a data set.

    Parameters
    ----------
    section : mapping
        The ``model`` section of the configuration file (possibly empty).
    data_stamp_size : int
        Stamp side of the training data, pixels.

    Returns
    -------
    ModelConfig
        With ``stamp_size`` from the data when the section does not set it.

    Raises
    ------
    ValueError
        If the section sets a ``stamp_size`` different from the data's.
    """
    section = dict(section)
    if "stamp_size" in section and int(section["stamp_size"]) != int(data_stamp_size):
        raise ValueError(
            f"stamp-size mismatch: the configuration says stamp_size={section['stamp_size']} "
            f"but the data set has {data_stamp_size}x{data_stamp_size} stamps; remove "
            "stamp_size from the configuration or use matching data"
        )
    section["stamp_size"] = int(data_stamp_size)
    if section.get("psf_input"):
        raise ValueError(
            "model.psf_input is for the deblender (stage 2): the stage-1 VAE learns isolated "
            "galaxies and is not given the PSF; remove psf_input from the VAE's configuration"
        )
    return ModelConfig.from_dict(section)


def resolve_stage2_model(vae_model: ModelConfig, section: Mapping[str, Any]) -> ModelConfig:
    """The stage-2 model configuration: the stage-1 one, with allowed overrides.

    Raises
    ------
    ValueError
        If the section changes a key outside :data:`STAGE2_MODEL_KEYS` (the
        architecture is fixed by the frozen stage-1 decoder).
    """
    current = vae_model.to_dict()
    changes = {}
    for key, value in section.items():
        if key in STAGE2_MODEL_KEYS:
            changes[key] = value
        elif ModelConfig.from_dict({**current, key: value}) != vae_model:
            raise ValueError(
                f"the deblender's architecture is that of the stage-1 VAE: the configuration "
                f"may not change model.{key} ({current[key]!r} in the VAE, {value!r} given); "
                f"only {', '.join(sorted(STAGE2_MODEL_KEYS))} can differ"
            )
    return vae_model.replace(**changes) if changes else vae_model
