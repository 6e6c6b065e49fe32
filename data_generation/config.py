"""Configuration of a simulated data set, saved as JSON in its manifest."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from data_generation.catalog import DEFAULT_BAND
from data_generation.instrument import VISInstrumentConfig
from data_generation.morphology import RealisticMorphologyConfig
from data_generation.schema import check_kind

MORPHOLOGIES = ("analytic", "realistic")
_RANGES = (
    "central_mag_range",
    "neighbour_mag_range",
    "bright_neighbour_mag_range",
    "annulus_arcsec",
)


@dataclass(frozen=True)
class GenerationConfig:
    """What a data set holds and how it was drawn.

    Attributes
    ----------
    kind : {"isolated", "blended"}
        Isolated stamps (stage-1 training) or blended pairs (stage 2).
    n_stamps : int
        Number of examples.
    seed : int
        Master seed: fixes the built-in catalogue, the choice of galaxies, offsets,
        neighbours and noise, independently of the number of worker processes.
    stamp_size : int
        Side of the square stamps, pixels (64).
    central_mag_range : (float, float)
        VIS AB magnitudes ``[bright, faint)`` of the central galaxies (18, 25.5).
    neighbour_mag_range : (float, float)
        VIS AB magnitudes ``[bright, faint)`` of the neighbours (18, 26.5).
    bright_neighbour_fraction : float
        Fraction of the blends whose neighbour is drawn from
        ``bright_neighbour_mag_range`` instead of the whole ``neighbour_mag_range``
        (0: none, the neighbours follow the catalogue's number counts). A training-set
        choice: it oversamples the rare pairs of a faint central galaxy beside a much
        brighter neighbour, which the catalogue's number counts make rare. Test sets
        keep 0.
    bright_neighbour_mag_range : (float, float)
        VIS AB magnitudes ``[bright, faint)`` of the oversampled neighbours (18, 21);
        inside ``neighbour_mag_range``.
    bright_neighbour_min_central_mag : float or None
        Oversample only beside central galaxies of at least this VIS AB magnitude
        (the faint ones, where a bright neighbour's light is taken for the central
        galaxy's); ``None`` (default): beside every central galaxy. Brighter centrals
        then keep the catalogue's mix of neighbours.
    annulus_arcsec : (float, float)
        Inner and outer radius of the annulus the neighbour is placed in, arcsec
        (0.3, 1.6), i.e. 3 to 16 pixels from the central galaxy. The inner radius is
        ~1.6 PSF FWHM, so pairs stay resolved; with the built-in catalogue 45 % of
        pairs have a blendedness above 0.01 and 17 % above 0.1 (0.6-2.4 arcsec gives
        23 % and 7 %).
    max_centre_offset_pix : float
        Sub-pixel jitter of the central galaxy around the stamp centre, pixels (0.5).
    shard_size : int
        Examples per TFRecord shard (1000).
    catalogue : str or None
        EGG FITS catalogue to draw galaxies from; ``None`` for the built-in EGG-recipe
        generator, whose catalogue is written into the output folder.
    band : str
        Band name in the catalogue (``"euclid-vis"``).
    morphology : {"analytic", "realistic"}
        Galaxy model (:mod:`data_generation.morphology`): ``"analytic"``, double Sersic
        (bulge n=4 + disk n=1); ``"realistic"``, the same with star-forming knots and
        lopsided clumps tied to the sSFR, or real HST COSMOS galaxies with
        ``cosmos_catalogue``.
    instrument : VISInstrumentConfig
        Pixels, PSF and noise.
    realistic : RealisticMorphologyConfig
        Parameters of the embedded realistic morphology. Values other than the
        defaults need ``morphology="realistic"`` without ``cosmos_catalogue``.
    cosmos_catalogue : str or None
        GalSim RealGalaxyCatalog FITS file of the HST COSMOS sample: with
        ``morphology="realistic"``, galaxies are drawn from it (their magnitudes take
        the place of ``catalogue``, which must then be ``None``).
    """

    kind: str
    n_stamps: int
    seed: int = 0
    stamp_size: int = 64
    central_mag_range: tuple[float, float] = (18.0, 25.5)
    neighbour_mag_range: tuple[float, float] = (18.0, 26.5)
    bright_neighbour_fraction: float = 0.0
    bright_neighbour_mag_range: tuple[float, float] = (18.0, 21.0)
    bright_neighbour_min_central_mag: float | None = None
    annulus_arcsec: tuple[float, float] = (0.3, 1.6)
    max_centre_offset_pix: float = 0.5
    shard_size: int = 1000
    catalogue: str | None = None
    band: str = DEFAULT_BAND
    morphology: str = "analytic"
    instrument: VISInstrumentConfig = field(default_factory=VISInstrumentConfig)
    realistic: RealisticMorphologyConfig = field(default_factory=RealisticMorphologyConfig)
    cosmos_catalogue: str | None = None

    def __post_init__(self) -> None:
        check_kind(self.kind)
        for name in ("n_stamps", "shard_size", "stamp_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.stamp_size < 16:
            raise ValueError(f"stamp_size must be at least 16 pixels, got {self.stamp_size}")
        for name in _RANGES:
            low, high = getattr(self, name)
            if not (math.isfinite(low) and math.isfinite(high) and low < high):
                raise ValueError(f"{name} must be an increasing pair of numbers, got {(low, high)}")
        self._check_bright_neighbours()
        r_min, r_max = self.annulus_arcsec
        if r_min < 0:
            raise ValueError(f"annulus_arcsec inner radius must be >= 0 arcsec, got {r_min}")
        if not 0 <= self.max_centre_offset_pix <= self.stamp_size / 4:
            raise ValueError(
                f"max_centre_offset_pix must be in [0, {self.stamp_size / 4}] pixels, "
                f"got {self.max_centre_offset_pix}"
            )
        if self.morphology not in MORPHOLOGIES:
            raise ValueError(
                f"morphology {self.morphology!r} is not available; choose one of "
                f"{', '.join(MORPHOLOGIES)}"
            )
        if self.cosmos_catalogue is not None:
            if self.morphology != "realistic":
                raise ValueError(
                    f"a COSMOS catalogue is only used with morphology 'realistic' (got "
                    f"{self.morphology!r}): pass --morphology realistic, or drop "
                    "--cosmos-catalogue"
                )
            if self.catalogue is not None:
                raise ValueError(
                    "catalogue and cosmos_catalogue exclude each other: COSMOS galaxies bring "
                    "their own magnitudes; drop --catalogue or --cosmos-catalogue"
                )
        if not isinstance(self.realistic, RealisticMorphologyConfig):
            raise ValueError(
                "realistic must be a RealisticMorphologyConfig, got "
                f"{type(self.realistic).__name__}; build one from a dictionary with "
                "RealisticMorphologyConfig.from_dict"
            )
        if self.realistic != RealisticMorphologyConfig():
            if self.morphology != "realistic":
                raise ValueError(
                    "realistic morphology parameters only apply to morphology 'realistic' (got "
                    f"{self.morphology!r}): pass --morphology realistic, or drop "
                    "--realistic-config"
                )
            if self.cosmos_catalogue is not None:
                raise ValueError(
                    "realistic morphology parameters set the embedded model, which a COSMOS "
                    "catalogue replaces: drop --realistic-config or --cosmos-catalogue"
                )
        if self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed}")

    def _check_bright_neighbours(self) -> None:
        fraction = self.bright_neighbour_fraction
        if not (isinstance(fraction, (int, float)) and 0.0 <= fraction <= 1.0):
            raise ValueError(f"bright_neighbour_fraction must be in [0, 1], got {fraction!r}")
        min_central_mag = self.bright_neighbour_min_central_mag
        if min_central_mag is not None and not (
            isinstance(min_central_mag, (int, float)) and math.isfinite(min_central_mag)
        ):
            raise ValueError(
                "bright_neighbour_min_central_mag must be a VIS magnitude or None, "
                f"got {min_central_mag!r}"
            )
        if fraction == 0:
            if min_central_mag is not None:
                raise ValueError(
                    "bright_neighbour_min_central_mag needs a bright_neighbour_fraction above 0: "
                    "pass --bright-neighbour-fraction, or drop --bright-neighbour-min-central-mag"
                )
            return
        if self.kind != "blended":
            raise ValueError(
                f"bright_neighbour_fraction applies to blends only (kind {self.kind!r}): "
                "drop --bright-neighbour-fraction"
            )
        (lo, hi), (lo_n, hi_n) = self.bright_neighbour_mag_range, self.neighbour_mag_range
        if lo < lo_n or hi > hi_n:
            raise ValueError(
                f"bright_neighbour_mag_range {lo}-{hi} must lie inside neighbour_mag_range "
                f"{lo_n}-{hi_n}: narrow --bright-neighbour-mag-range or widen "
                "--neighbour-mag-range"
            )

    @property
    def n_shards(self) -> int:
        """Number of shards: ``ceil(n_stamps / shard_size)``."""
        return -(-self.n_stamps // self.shard_size)

    def shard_bounds(self, index: int) -> tuple[int, int]:
        """Example indices ``[start, stop)`` of shard ``index``."""
        start = index * self.shard_size
        return start, min(start + self.shard_size, self.n_stamps)

    @property
    def mag_limit_vis(self) -> float:
        """Faintest VIS magnitude any galaxy of the data set can have."""
        return max(self.central_mag_range[1], self.neighbour_mag_range[1])

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (tuples become lists)."""
        values = dataclasses.asdict(self)
        for name in _RANGES:
            values[name] = list(values[name])
        values["realistic"] = self.realistic.to_dict()
        return values

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> GenerationConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise ValueError naming them.

        Keys added after a data set was written (``realistic``, ``cosmos_catalogue``,
        ``bright_neighbour_*``) take their defaults, so older manifests still load.
        """
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown generation parameter(s) {unknown}; known: {sorted(known)}")
        values = dict(values)
        for name in _RANGES:
            if name in values:
                values[name] = tuple(values[name])
        if "instrument" in values:
            values["instrument"] = VISInstrumentConfig.from_dict(values["instrument"])
        if "realistic" in values:
            values["realistic"] = RealisticMorphologyConfig.from_dict(values["realistic"])
        return cls(**values)
