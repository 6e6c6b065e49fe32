"""Architecture configuration of the variational autoencoders.

Everything that shapes the networks lives in :class:`ModelConfig`, stored as JSON
next to the trained weights, so that loading a trained stage never requires
re-typing an architecture (:func:`debvader_euclid.training.artifacts.load_stage`).
"""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from data_generation.io_utils import write_json_atomic
from debvader_euclid.psf_descriptor import DEFAULT_RADII_PIXELS

#: Output likelihoods the decoder can be trained with (see :mod:`.losses`).
LIKELIHOODS = ("gaussian_fixed_sigma", "gaussian_learned_sigma")

#: Forms of the flux residual of the optional flux term of the loss
#: (:mod:`debvader_euclid.models.losses`, ``TrainingConfig.flux_residual``).
FLUX_RESIDUALS = ("relative", "symmetric")


#: The fields that make a blend encoder PSF-conditioned.
PSF_KEYS = ("psf_input", "psf_radii_pixels", "psf_reference", "psf_readout_rank")


def default_psf_reference(radii_pixels: tuple[float, ...]) -> tuple[float, ...]:
    """Encircled-light fractions of the default VIS PSF at ``radii_pixels``."""
    from data_generation.instrument import VISInstrument
    from debvader_euclid.psf_descriptor import DESCRIPTOR_IMAGE_SIZE, encircled_light

    image = VISInstrument().pixelised_psf(DESCRIPTOR_IMAGE_SIZE)
    return tuple(round(float(v), 6) for v in encircled_light(image, radii_pixels))


@dataclass(frozen=True)
class ModelConfig:
    """Architecture, latent space, likelihood and normalisation of one VAE.

    The encoder is ``len(filters)`` convolution levels, each halving the image
    side; the decoder mirrors it (see :mod:`.encoder` and :mod:`.decoder`).

    The defaults are the shipped configuration for 64x64 VIS stamps: debvader's
    layout (4 levels, kernel 3, PReLU, latent 32 with a full-covariance Gaussian,
    KL weight 0.01) with half its filters and one convolution per level. It
    trains 2-3x faster than the full debvader widths on CPU: 750-1000 stamps/s on
    2 shared CPU cores (``benchmarks/train_throughput.py``), so both stages on
    150,000 stamps in total for 25 epochs (the
    :class:`~debvader_euclid.training.config.TrainingConfig` default) take
    about 60-80 minutes.

    Attributes
    ----------
    stamp_size : int
        Side of the square input and output stamps in pixels (0.1 arcsec VIS pixels).
    latent_dim : int
        Dimension of the latent space (the encoder outputs a full-covariance
        Gaussian over it).
    filters : tuple of int
        Number of convolution filters at each encoder level, from the input
        resolution down; the decoder uses them in reverse order.
    kernel_sizes : tuple of int
        Convolution kernel side at each level (same length as ``filters``).
    convs_per_level : int
        Convolutions per level: the strided (resolution-changing) one plus
        ``convs_per_level - 1`` stride-1 convolutions.
    dense_units : int
        Width of an extra fully connected layer between the convolutions and the
        latent space, in the encoder and the decoder; 0 for none.
    encoder_filters : tuple of int or None
        Filters of the encoder's levels when they differ from the decoder's
        (``filters``); None for the same. The encoder ends in a dense layer onto
        the latent parameters, so its widths are free: the stage-2 deblender uses
        this to give the blend encoder, which has to separate two galaxies, more
        capacity than the isolated-galaxy encoder while keeping the frozen decoder.
    kl_weight : float
        Weight of the KL divergence of the latent posterior to N(0, I) in the loss
        (dimensionless; 1 is the evidence lower bound).
    likelihood : {"gaussian_fixed_sigma", "gaussian_learned_sigma"}
        Per-pixel likelihood of the noiseless target in normalised units
        (see :mod:`.losses`).
    likelihood_sigma : float
        Normalised units. The standard deviation of the fixed-sigma Gaussian, or
        the floor added to the learned sigma.
    normalization_scale : float
        The scale ``s`` of the arcsinh normalisation ``y = arcsinh(x / s)``, in
        uJy/pixel (see :mod:`.normalization`).
    psf_input : bool
        Stage 2 only: the blend encoder is also given the PSF of each stamp, as the
        encircled-light fractions of :mod:`debvader_euclid.psf_descriptor`, which
        scale and shift the features of every convolution level (see
        :mod:`.psf_modulation`). Off for the stage-1 VAE; on for the shipped analytic
        deblender (since session 19).
    psf_radii_pixels : tuple of float
        Radii of those fractions, 0.1 arcsec pixels (with ``psf_input``).
    psf_reference : tuple of float or None
        The fractions of the PSF assumed when none is given, one per radius; None
        fills in those of the default VIS PSF
        (:class:`data_generation.instrument.VISInstrumentConfig`, Moffat 0.17").
    psf_readout_rank : int
        With ``psf_input``: the rank ``r`` of a PSF-dependent correction of the
        encoder's read-out, ``U ((V h) * (M d))`` added to the latent parameters
        (``h`` the flattened last-level features, ``d`` the PSF vector;
        :class:`.psf_modulation.PSFReadout`). It is zero for the reference PSF and
        starts at zero. 0 (the default) leaves it out.
    """

    stamp_size: int = 64
    latent_dim: int = 32
    filters: tuple[int, ...] = (16, 32, 64, 128)
    kernel_sizes: tuple[int, ...] = (3, 3, 3, 3)
    convs_per_level: int = 1
    dense_units: int = 0
    encoder_filters: tuple[int, ...] | None = None
    kl_weight: float = 0.01
    likelihood: str = "gaussian_fixed_sigma"
    likelihood_sigma: float = 0.1
    normalization_scale: float = 0.01
    psf_input: bool = False
    psf_radii_pixels: tuple[float, ...] = DEFAULT_RADII_PIXELS
    psf_reference: tuple[float, ...] | None = None
    psf_readout_rank: int = 0

    def __post_init__(self) -> None:
        # Normalise list inputs (from JSON) to tuples so that the config is hashable
        # and compares equal to itself after a round trip.
        object.__setattr__(self, "filters", tuple(int(f) for f in self.filters))
        object.__setattr__(self, "kernel_sizes", tuple(int(k) for k in self.kernel_sizes))
        if self.encoder_filters is not None:
            object.__setattr__(self, "encoder_filters", tuple(int(f) for f in self.encoder_filters))
        object.__setattr__(self, "psf_radii_pixels", tuple(float(r) for r in self.psf_radii_pixels))
        if isinstance(self.psf_readout_rank, numbers.Integral) and not isinstance(
            self.psf_readout_rank, bool
        ):  # numpy integers too
            object.__setattr__(self, "psf_readout_rank", int(self.psf_readout_rank))
        if self.psf_reference is not None:
            object.__setattr__(self, "psf_reference", tuple(float(v) for v in self.psf_reference))
        elif self.psf_input:
            object.__setattr__(self, "psf_reference", default_psf_reference(self.psf_radii_pixels))
        self.validate()

    # ------------------------------------------------------------------ checks
    def validate(self) -> None:
        """Raise ValueError naming the first inconsistent field."""
        if int(self.stamp_size) < 4:
            raise ValueError(f"stamp_size must be at least 4 pixels, got {self.stamp_size}")
        if int(self.latent_dim) < 1:
            raise ValueError(f"latent_dim must be positive, got {self.latent_dim}")
        if not self.filters:
            raise ValueError("filters must list at least one level")
        if any(f < 1 for f in self.filters):
            raise ValueError(f"filters must be positive, got {list(self.filters)}")
        if len(self.kernel_sizes) != len(self.filters):
            raise ValueError(
                f"kernel_sizes has {len(self.kernel_sizes)} entries but filters has "
                f"{len(self.filters)}: give one kernel size per level"
            )
        if any(k < 1 for k in self.kernel_sizes):
            raise ValueError(f"kernel_sizes must be positive, got {list(self.kernel_sizes)}")
        if self.encoder_filters is not None:
            if len(self.encoder_filters) != len(self.filters):
                raise ValueError(
                    f"encoder_filters has {len(self.encoder_filters)} entries but filters has "
                    f"{len(self.filters)}: the encoder has the decoder's number of levels"
                )
            if any(f < 1 for f in self.encoder_filters):
                raise ValueError(
                    f"encoder_filters must be positive, got {list(self.encoder_filters)}"
                )
        if int(self.convs_per_level) < 1:
            raise ValueError(f"convs_per_level must be at least 1, got {self.convs_per_level}")
        if int(self.dense_units) < 0:
            raise ValueError(f"dense_units must be >= 0, got {self.dense_units}")
        if 2 ** len(self.filters) > self.stamp_size:
            raise ValueError(
                f"{len(self.filters)} levels halve a {self.stamp_size}-pixel stamp below "
                "one pixel: use fewer levels (filters) or larger stamps"
            )
        if not self.kl_weight >= 0:
            raise ValueError(f"kl_weight must be >= 0, got {self.kl_weight}")
        if self.likelihood not in LIKELIHOODS:
            raise ValueError(
                f"unknown likelihood {self.likelihood!r}: expected one of {', '.join(LIKELIHOODS)}"
            )
        if not self.likelihood_sigma > 0:
            raise ValueError(f"likelihood_sigma must be positive, got {self.likelihood_sigma}")
        if not self.normalization_scale > 0:
            raise ValueError(
                f"normalization_scale must be positive (uJy/pixel), got {self.normalization_scale}"
            )
        if not isinstance(self.psf_input, bool):
            raise ValueError(f"psf_input must be true or false, got {self.psf_input!r}")
        radii = self.psf_radii_pixels
        if not radii or any(not r > 0 for r in radii) or list(radii) != sorted(set(radii)):
            raise ValueError(
                f"psf_radii_pixels must be positive radii in increasing order, got {list(radii)}"
            )
        if self.psf_reference is not None:
            if len(self.psf_reference) != len(radii):
                raise ValueError(
                    f"psf_reference has {len(self.psf_reference)} values but psf_radii_pixels "
                    f"{len(radii)}: give one encircled-light fraction per radius"
                )
            if any(not 0 <= v <= 1 for v in self.psf_reference):
                raise ValueError(
                    "psf_reference holds encircled-light fractions in [0, 1], got "
                    f"{list(self.psf_reference)}"
                )
        rank = self.psf_readout_rank
        if isinstance(rank, bool) or not isinstance(rank, numbers.Integral):
            raise ValueError(
                f"psf_readout_rank must be a whole number >= 0, got {self.psf_readout_rank!r}"
            )
        if self.psf_readout_rank < 0:
            raise ValueError(f"psf_readout_rank must be >= 0, got {self.psf_readout_rank}")
        if self.psf_readout_rank and not self.psf_input:
            raise ValueError(
                f"psf_readout_rank {self.psf_readout_rank} needs psf_input: the read-out "
                "correction is driven by the PSF vector; set psf_input true or the rank to 0"
            )

    # ------------------------------------------------------------------ derived
    @property
    def bottleneck_size(self) -> int:
        """Side in pixels of the smallest feature map, ``ceil(stamp_size / 2**levels)``."""
        return math.ceil(self.stamp_size / 2 ** len(self.filters))

    @property
    def encoder_widths(self) -> tuple[int, ...]:
        """Filters of the encoder's levels: ``encoder_filters``, or ``filters`` if None."""
        return self.encoder_filters if self.encoder_filters is not None else self.filters

    @property
    def output_channels(self) -> int:
        """Decoder output channels: the mean, plus a raw sigma for a learned sigma."""
        return 2 if self.likelihood == "gaussian_learned_sigma" else 1

    # ------------------------------------------------------------------ (de)serialisation
    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON dictionary (tuples become lists)."""
        out = dataclasses.asdict(self)
        out["filters"] = list(self.filters)
        out["kernel_sizes"] = list(self.kernel_sizes)
        if self.encoder_filters is not None:
            out["encoder_filters"] = list(self.encoder_filters)
        if self.psf_input:
            out["psf_radii_pixels"] = list(self.psf_radii_pixels)
            out["psf_reference"] = list(self.psf_reference or ())
            if not self.psf_readout_rank:  # PSF-conditioned models of session 19 stay as they were
                out.pop("psf_readout_rank")
        else:  # the configurations of models without PSF input stay as they were
            for key in PSF_KEYS:
                out.pop(key)
        return out

    @classmethod
    def from_dict(cls, payload: Mapping[str, Any]) -> ModelConfig:
        """Build from a (possibly partial) dictionary; defaults fill the rest.

        Raises
        ------
        ValueError
            On an unknown key (the valid ones are listed) or an invalid value.
        """
        return cls(**check_keys(cls, payload, "model configuration"))

    def replace(self, **changes: Any) -> ModelConfig:
        """A copy with some fields changed (validated)."""
        return dataclasses.replace(self, **changes)

    def to_json(self, path: str | os.PathLike) -> Path:
        """Write the configuration as JSON, atomically."""
        return write_json_atomic(path, self.to_dict())

    @classmethod
    def from_json(cls, path: str | os.PathLike) -> ModelConfig:
        """Read a configuration written by :meth:`to_json`."""
        return cls.from_dict(json.loads(Path(path).read_text()))


def check_keys(cls: type, payload: Mapping[str, Any], what: str) -> dict[str, Any]:
    """Return ``payload`` as a dict after checking its keys are fields of ``cls``.

    Parameters
    ----------
    cls : dataclass type
    payload : mapping
    what : str
        Name used in the error message.

    Raises
    ------
    ValueError
        If ``payload`` is not a mapping or has a key that is not a field of ``cls``.
    """
    if not isinstance(payload, Mapping):
        raise ValueError(f"{what} must be a JSON object, got {type(payload).__name__}")
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(payload) - set(names))
    if unknown:
        raise ValueError(
            f"unknown key(s) {', '.join(map(repr, unknown))} in the {what}: "
            f"valid keys are {', '.join(names)}"
        )
    return dict(payload)
