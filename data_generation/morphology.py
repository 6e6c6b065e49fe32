"""Galaxy light profiles before the PSF: analytic, embedded realistic, or real COSMOS galaxies.

A :class:`Morphology` turns one catalogue row (see :mod:`data_generation.catalog`)
into a GalSim surface-brightness profile: flux in microJansky, lengths in arcsec,
centred on the origin, *before* the PSF (the renderer, :mod:`data_generation.render`,
convolves with the VIS PSF and draws it). Every random draw a morphology makes comes
from the numpy generator it is handed, so a data set is fixed by its seed.

Three morphologies:

``analytic`` (:class:`AnalyticMorphology`)
    A de Vaucouleurs bulge plus an exponential disk (:func:`galaxy_profile`). It
    draws no random number.
``realistic`` (:class:`EmbeddedRealisticMorphology`, the default realistic source)
    The same bulge and disk, with part of the **disk** light moved into

    * star-forming knots (``galsim.RandomKnots``: point sources placed at random
      following the disk's own exponential profile, size and shear), carrying a
      fraction of the disk light that grows with the specific star-formation rate
      sSFR = SFR / M*, zero for passive galaxies;
    * for a fraction of galaxies, higher for higher sSFR, an off-centre exponential
      clump that makes the disk lopsided (an m = 1 asymmetry).

    The components *redistribute* the disk light: the profile's total flux is the
    row's ``flux_uJy``, so the flux truth stays exact, and the noiseless stamp
    drawn from the profile is the truth image. The parameters and their literature
    sources are in :class:`RealisticMorphologyConfig`.
``realistic`` with a COSMOS catalogue (:class:`CosmosMorphology`)
    Real HST/ACS F814W galaxies of the COSMOS sample (GalSim's ``RealGalaxy``: the
    HST PSF is deconvolved, the renderer applies the VIS PSF), randomly rotated,
    with the flux of the catalogue magnitude. Rows come from
    :func:`data_generation.cosmos.read_cosmos_catalogue`.

Use :func:`build_morphology` to get the one a :class:`~data_generation.config.GenerationConfig`
asks for.

Random draws of the realistic morphologies, per galaxy, always the same number
whatever the galaxy (so one galaxy's structure never shifts the next one's):

* embedded: a knot seed (integer), then four uniform deviates: whether the galaxy is
  asymmetric, the clump's light fraction, its offset and its position angle;
* COSMOS: a seed for GalSim's deviate, then the rotation angle.
"""

from __future__ import annotations

import abc
import dataclasses
import json
import logging
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import galsim
import numpy as np

if TYPE_CHECKING:
    from data_generation.config import GenerationConfig

log = logging.getLogger(__name__)

#: Columns of a catalogue row that :func:`galaxy_profile` reads.
PROFILE_COLUMNS = (
    "bulge_flux_uJy",
    "disk_flux_uJy",
    "bulge_hlr_arcsec",
    "disk_hlr_arcsec",
    "bulge_q",
    "disk_q",
    "bulge_angle_deg",
    "disk_angle_deg",
)

#: GalSim accuracy settings of every profile (large FFTs allowed for big, faint disks).
GSPARAMS = galsim.GSParams(maximum_fft_size=16384)

#: Exclusive upper bound of the seeds handed to GalSim's deviates (seed 0 means "from the
#: clock" in GalSim, so seeds are drawn in [1, 2**31 - 1)).
_GALSIM_SEED_MAX = 2**31 - 1


def galaxy_profile(row: Mapping[str, float]) -> galsim.GSObject:
    """The surface-brightness profile of a bulge + disk galaxy, before the PSF.

    Parameters
    ----------
    row : mapping
        Catalogue row with the :data:`PROFILE_COLUMNS`: component fluxes in uJy,
        semi-major-axis half-light radii in arcsec, axis ratios b/a in (0, 1],
        position angles in degrees.

    Returns
    -------
    galsim.GSObject
        Total flux in uJy; lengths in arcsec. A component with zero flux is left out.

    Raises
    ------
    ValueError
        If both components have zero flux.
    """
    components = []
    for name, profile_class in (("disk", galsim.Exponential), ("bulge", galsim.DeVaucouleurs)):
        flux = float(row[f"{name}_flux_uJy"])
        if flux <= 0:
            continue
        q = float(row[f"{name}_q"])
        hlr = float(row[f"{name}_hlr_arcsec"]) * math.sqrt(q)
        profile = profile_class(half_light_radius=hlr, flux=flux, gsparams=GSPARAMS)
        components.append(profile.shear(q=q, beta=float(row[f"{name}_angle_deg"]) * galsim.degrees))
    if not components:
        raise ValueError("galaxy has neither bulge nor disk flux: nothing to draw")
    return components[0] if len(components) == 1 else galsim.Add(components)


@dataclass(frozen=True)
class Realisation:
    """One drawn galaxy: its profile and the truth values the drawing changed.

    Attributes
    ----------
    profile : galsim.GSObject
        Pre-PSF profile, flux in uJy, lengths in arcsec.
    truth : mapping of str to float
        Catalogue-row values to store instead of the row's own (e.g. the position
        angle after a random rotation, degrees); empty when the row is the truth.
    """

    profile: galsim.GSObject
    truth: Mapping[str, float] = field(default_factory=dict)


class Morphology(abc.ABC):
    """How a catalogue row becomes a pre-PSF galaxy profile."""

    #: Name stored in the data set's configuration (``analytic`` or ``realistic``).
    name: str = ""

    @abc.abstractmethod
    def profile(self, row: Mapping[str, Any], rng: np.random.Generator) -> galsim.GSObject:
        """The galaxy's pre-PSF profile.

        Parameters
        ----------
        row : mapping
            Catalogue row (columns of :mod:`data_generation.catalog`; for COSMOS, of
            :mod:`data_generation.cosmos`).
        rng : numpy.random.Generator
            Source of every random draw (unused by the analytic morphology).

        Returns
        -------
        galsim.GSObject
            Total flux ``row["flux_uJy"]`` in uJy (the analytic morphology: bulge + disk
            flux), lengths in arcsec, centred on the origin.
        """

    def realise(self, row: Mapping[str, Any], rng: np.random.Generator) -> Realisation:
        """The profile plus any truth value the drawing changed (none by default)."""
        return Realisation(self.profile(row, rng))

    @abc.abstractmethod
    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable description (name, source, parameters)."""


class AnalyticMorphology(Morphology):
    """De Vaucouleurs bulge + exponential disk (:func:`galaxy_profile`); draws nothing."""

    name = "analytic"

    def profile(
        self, row: Mapping[str, Any], rng: np.random.Generator | None = None
    ) -> galsim.GSObject:
        """:func:`galaxy_profile` of the row; ``rng`` is not used."""
        return galaxy_profile(row)

    def to_dict(self) -> dict[str, Any]:
        """``{"name": "analytic"}``."""
        return {"name": self.name}


# --------------------------------------------------------------------------- embedded realistic


@dataclass(frozen=True)
class RealisticMorphologyConfig:
    """Parameters of the embedded realistic morphology (saved in the data set's manifest).

    Fractions of *disk* light move from the smooth exponential disk into knots and
    an off-centre clump; the bulge is unchanged. ``log sSFR`` is
    ``log10(SFR / Msun yr^-1) - log_mstar``, in log10(yr^-1) (EGG's ``SFR`` and ``M``,
    both Salpeter IMF, so the IMF cancels). Values not measured in a paper are
    marked as tuning choices.

    Attributes
    ----------
    ssfr_ref_per_yr : float
        Reference sSFR, yr^-1 (1e-9): the star-forming main sequence at z ~ 1
        (Speagle et al. 2014, ApJS 214, 15; EGG's main sequence, Schreiber et al.
        2015, gives log sSFR = -9.1 at z = 1 and -8.8 at z = 2).
    ssfr_passive_per_yr : float
        Below this sSFR a galaxy is passive when the row has no ``passive`` flag,
        yr^-1 (1e-11, the usual quiescent cut, e.g. Wetzel, Tinker & Conroy 2012,
        MNRAS 424, 232).
    knot_fraction_ref : float
        Fraction of the disk light in knots at ``ssfr_ref_per_yr`` (0.12). UV-bright
        clumps carry 15-20 % of the rest-frame UV light of clumpy galaxies (Soto et
        al. 2017, ApJ 837, 6: 19 % of the rest-FUV at 0.5 < z < 1.5; Guo et al. 2015,
        ApJ 800, 39 and 2018, ApJ 853, 108) but only ~4-7 % of their stellar mass
        (Soto et al. 2017; Wuyts et al. 2012, ApJ 753, 114). VIS (550-900 nm)
        samples the rest-frame UV at z > 1 and the rest-frame optical at z < 0.5:
        0.12 lies between the two.
    knot_fraction_slope_per_dex : float
        Change of the knot fraction per dex of sSFR (0.08). Tuning choice: +-1 dex
        around the reference spans 4-20 %, the mass-like to UV-like range above;
        the clumpy fraction correlates with star-formation activity (Shibuya et al.
        2016, ApJ 821, 72).
    knot_fraction_max : float
        Largest knot fraction of the disk light (0.25), a little above the 19 %
        mean of Soto et al. (2017) for the most star-forming galaxies.
    knot_fraction_default : float
        Knot fraction of a galaxy whose row has no SFR or stellar mass (0.08): the
        fraction of a main-sequence galaxy at z ~ 0.5 (log sSFR ~ -9.5) with the
        values above. A warning is logged once.
    knots_per_arcsec : float
        Number of knots per arcsec of disk half-light radius (semi-major axis) (20).
        Tuning choice: a 0.3 arcsec disk gets 6 knots, within the 1-8 resolved
        kpc-scale clumps per clumpy galaxy (mean 2) of Soto et al. (2017) plus
        smaller knots below HST's resolution.
    n_knots_range : (int, int)
        Fewest and most knots of a galaxy with knots (3, 25). A tuning choice:
        resolved clump counts are 1-8 (Soto et al. 2017), unresolved knots more.
    asym_probability_ref : float
        Probability that a star-forming galaxy at ``ssfr_ref_per_yr`` has an
        asymmetric (lopsided) component (0.30): ~30 % of field spiral disks are
        significantly lopsided, A1 >~ 0.2 (Zaritsky & Rix 1997, ApJ 477, 118; review
        by Jog & Combes 2009, Phys. Rep. 471, 75).
    asym_probability_slope_per_dex : float
        Change of that probability per dex of sSFR (0.10). Tuning choice following
        the rise of clumpy and irregular morphologies with star-formation activity
        (Shibuya et al. 2016; Guo et al. 2015).
    asym_probability_range : (float, float)
        Bounds of the probability of a star-forming galaxy (0.20, 0.60): 20 % as
        for early-type disks (below), 60 %, the highest clumpy fraction of Guo et
        al. (2015) (low-mass star-forming galaxies, 0.5 < z < 3).
    asym_probability_passive : float
        Probability for a passive galaxy (0.20): 20 % of early-type (S0-Sab) disks
        have A1/A0 >= 0.19 (Rudnick & Rix 1998, AJ 116, 1163).
    asym_probability_default : float
        Probability when the row has no SFR or stellar mass (0.25), between the two
        (a tuning choice).
    asym_light_fraction_range : (float, float)
        Fraction of the disk light in the off-centre clump, drawn uniformly
        (0.05, 0.15). Calibrated with the offset and size below so that the m = 1
        Fourier amplitude A1 of the face-on disk at 1.5-2.5 scale lengths (the
        measurement of Zaritsky & Rix 1997, A1 = a_1 / a_0 of the azimuthal profile)
        spans 0.15-0.42 (10th-90th percentile, median 0.24, 73 % above 0.2; measured
        on 200 draws): the significantly lopsided tail, A1 >~ 0.2, of those papers.
    asym_offset_range_hlr : (float, float)
        Offset of the clump from the galaxy centre in the disk plane, in disk
        half-light radii, drawn uniformly (0.5, 1.5); its direction is uniform. A
        tuning choice, calibrated with the light fraction on A1 (above).
    asym_size_ratio : float
        Half-light radius of the clump over that of the disk (0.5); same axis
        ratio and orientation as the disk. A tuning choice, calibrated with the
        light fraction on A1 (above).
    """

    ssfr_ref_per_yr: float = 1e-9
    ssfr_passive_per_yr: float = 1e-11
    knot_fraction_ref: float = 0.12
    knot_fraction_slope_per_dex: float = 0.08
    knot_fraction_max: float = 0.25
    knot_fraction_default: float = 0.08
    knots_per_arcsec: float = 20.0
    n_knots_range: tuple[int, int] = (3, 25)
    asym_probability_ref: float = 0.30
    asym_probability_slope_per_dex: float = 0.10
    asym_probability_range: tuple[float, float] = (0.20, 0.60)
    asym_probability_passive: float = 0.20
    asym_probability_default: float = 0.25
    asym_light_fraction_range: tuple[float, float] = (0.05, 0.15)
    asym_offset_range_hlr: tuple[float, float] = (0.5, 1.5)
    asym_size_ratio: float = 0.5

    def __post_init__(self) -> None:
        for name in ("ssfr_ref_per_yr", "ssfr_passive_per_yr", "knots_per_arcsec"):
            value = getattr(self, name)
            if not (_is_number(value) and value > 0):
                raise ValueError(f"realistic morphology: {name} must be positive, got {value!r}")
        fractions = (
            "knot_fraction_ref",
            "knot_fraction_max",
            "knot_fraction_default",
            "asym_probability_ref",
            "asym_probability_passive",
            "asym_probability_default",
        )
        for name in fractions:
            value = getattr(self, name)
            if not (_is_number(value) and 0 <= value <= 1):
                raise ValueError(
                    f"realistic morphology: {name} is a fraction in [0, 1], got {value!r}"
                )
        for name in ("knot_fraction_slope_per_dex", "asym_probability_slope_per_dex"):
            value = getattr(self, name)
            if not _is_number(value):
                raise ValueError(f"realistic morphology: {name} must be a number, got {value!r}")
        for name in ("asym_probability_range", "asym_light_fraction_range"):
            low, high = _pair(self, name)
            if not (0 <= low <= high <= 1):
                raise ValueError(
                    f"realistic morphology: {name} must be fractions 0 <= low <= high <= 1, "
                    f"got {(low, high)}"
                )
        low, high = _pair(self, "asym_offset_range_hlr")
        if not 0 <= low <= high:
            raise ValueError(
                f"realistic morphology: asym_offset_range_hlr must be 0 <= low <= high "
                f"(disk half-light radii), got {(low, high)}"
            )
        n_low, n_high = _pair(self, "n_knots_range")
        if not (float(n_low).is_integer() and float(n_high).is_integer() and 1 <= n_low <= n_high):
            raise ValueError(
                f"realistic morphology: n_knots_range must be integers 1 <= low <= high, "
                f"got {(n_low, n_high)}"
            )
        if not (_is_number(self.asym_size_ratio) and self.asym_size_ratio > 0):
            raise ValueError(
                "realistic morphology: asym_size_ratio must be positive, "
                f"got {self.asym_size_ratio!r}"
            )
        if self.knot_fraction_max + self.asym_light_fraction_range[1] > 1:
            raise ValueError(
                "realistic morphology: knot_fraction_max + the largest asym_light_fraction "
                f"({self.knot_fraction_max} + {self.asym_light_fraction_range[1]}) exceeds 1, "
                "which would leave the smooth disk negative; lower one of them"
            )

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (tuples become lists)."""
        return {
            name: list(value) if isinstance(value, tuple) else value
            for name, value in dataclasses.asdict(self).items()
        }

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> RealisticMorphologyConfig:
        """Inverse of :meth:`to_dict`; missing keys take their defaults.

        Raises
        ------
        ValueError
            Unknown keys (named, with the valid ones), or values out of range.
        """
        if not isinstance(values, Mapping):
            raise ValueError(
                "realistic morphology parameters must be a JSON object of "
                f"name: value, got {type(values).__name__}"
            )
        known = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ValueError(
                f"unknown realistic morphology parameter(s) {unknown}; valid ones: "
                f"{', '.join(known)}"
            )
        converted = {
            name: tuple(value) if isinstance(value, list) else value
            for name, value in values.items()
        }
        return cls(**converted)

    @classmethod
    def from_json(cls, path: str | os.PathLike) -> RealisticMorphologyConfig:
        """Read the parameters from a JSON file holding an object of ``name: value``.

        Raises
        ------
        FileNotFoundError
            The file does not exist.
        ValueError
            Not JSON, not an object, an unknown key or a value out of range.
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"realistic morphology configuration {path} does not exist")
        try:
            values = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise ValueError(f"{path} is not valid JSON ({err})") from err
        try:
            return cls.from_dict(values)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{path}: {err}") from err


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _pair(config: RealisticMorphologyConfig, name: str) -> tuple[float, float]:
    value = getattr(config, name)
    if not (isinstance(value, tuple) and len(value) == 2 and all(_is_number(v) for v in value)):
        raise ValueError(f"realistic morphology: {name} must be a pair of numbers, got {value!r}")
    return value


#: Star-formation states of :class:`RealisticStructure`.
STAR_FORMING, PASSIVE, UNKNOWN = "star-forming", "passive", "unknown"


@dataclass(frozen=True)
class RealisticStructure:
    """The random structure drawn for one galaxy by :class:`EmbeddedRealisticMorphology`.

    Attributes
    ----------
    state : {"star-forming", "passive", "unknown"}
        Star-formation state the fractions were chosen by (``unknown``: the row has
        no SFR or stellar mass).
    log_ssfr : float
        log10 sSFR, log10(yr^-1); NaN when unknown, -inf for SFR = 0.
    knot_fraction : float
        Fraction of the disk light in knots (0 for no knots).
    n_knots : int
        Number of knots (0 for none).
    knot_seed : int
        Seed of GalSim's deviate that places the knots.
    asymmetric : bool
        Whether the galaxy has the off-centre clump.
    asym_fraction : float
        Fraction of the disk light in the clump (0 when not asymmetric).
    asym_offset_hlr : float
        Clump offset in the disk plane, disk half-light radii.
    asym_angle_deg : float
        Azimuth of the clump in the disk plane, degrees counter-clockwise from the
        disk's major axis.
    """

    state: str
    log_ssfr: float
    knot_fraction: float
    n_knots: int
    knot_seed: int
    asymmetric: bool
    asym_fraction: float
    asym_offset_hlr: float
    asym_angle_deg: float


class EmbeddedRealisticMorphology(Morphology):
    """Bulge + disk with star-forming knots and lopsided clumps tied to the sSFR.

    Parameters
    ----------
    config : RealisticMorphologyConfig, optional
        Parameters (defaults: the literature values of the class docstring).

    Notes
    -----
    The profile is ``bulge + smooth disk + knots + clump`` where the knots and the
    clump take their light from the disk: with ``F_d`` the disk flux, the knots
    carry ``f_k F_d``, the clump ``f_a F_d`` and the smooth disk the rest, so the
    total is the row's ``flux_uJy`` (the bulge and disk fluxes are rescaled to add
    up to it if the catalogue's sum differs by rounding). Knots are point sources
    drawn from the disk's exponential profile and then sheared like the disk;
    knots are unresolved at the VIS PSF (0.17 arcsec ~ 1.4 kpc at z > 0.7, the size
    of the largest clumps). The clump is an exponential with the disk's axis ratio
    and orientation, offset in the disk plane.

    The knot fraction is ``clip(f_ref + slope (log sSFR - log sSFR_ref), 0, f_max)``
    for star-forming galaxies and 0 for passive ones (the row's ``passive`` flag,
    else sSFR below ``ssfr_passive_per_yr``); the asymmetry probability is
    ``clip(p_ref + slope (log sSFR - log sSFR_ref), p_min, p_max)`` for star-forming
    galaxies and ``asym_probability_passive`` for passive ones.
    """

    name = "realistic"

    def __init__(self, config: RealisticMorphologyConfig | None = None) -> None:
        self.config = config or RealisticMorphologyConfig()
        self._warned_missing = False

    def to_dict(self) -> dict[str, Any]:
        """Name, source (``embedded``) and parameters."""
        return {"name": self.name, "source": "embedded", "config": self.config.to_dict()}

    # ----------------------------------------------------------------- deterministic part

    def star_formation(self, row: Mapping[str, Any]) -> tuple[str, float]:
        """Star-formation state and log10 sSFR (yr^-1, NaN when unknown) of a row."""
        sfr = _finite_or_none(row.get("sfr_msun_per_yr"))
        log_mstar = _finite_or_none(row.get("log_mstar"))
        log_ssfr = math.nan
        if sfr is not None and log_mstar is not None:
            log_ssfr = math.log10(sfr) - log_mstar if sfr > 0 else -math.inf
        passive = _finite_or_none(row.get("passive"))
        if passive is not None:
            state = PASSIVE if passive else STAR_FORMING
            if math.isnan(log_ssfr) and state == STAR_FORMING:
                state = UNKNOWN
        elif math.isnan(log_ssfr):
            state = UNKNOWN
        else:
            passive_cut = math.log10(self.config.ssfr_passive_per_yr)
            state = PASSIVE if log_ssfr < passive_cut else STAR_FORMING
        if state == UNKNOWN and not self._warned_missing:
            self._warned_missing = True
            log.warning(
                "catalogue rows without SFR or stellar mass (columns SFR and M): the realistic "
                "morphology gives them the default knot fraction %.2f and asymmetry "
                "probability %.2f (knot_fraction_default, asym_probability_default)",
                self.config.knot_fraction_default,
                self.config.asym_probability_default,
            )
        return state, log_ssfr

    def knot_fraction(self, row: Mapping[str, Any]) -> float:
        """Fraction of the disk light in knots for this row (0 to ``knot_fraction_max``)."""
        state, log_ssfr = self.star_formation(row)
        return self._knot_fraction(state, log_ssfr)

    def asymmetry_probability(self, row: Mapping[str, Any]) -> float:
        """Probability that this row gets the off-centre clump."""
        state, log_ssfr = self.star_formation(row)
        return self._asym_probability(state, log_ssfr)

    def n_knots(self, row: Mapping[str, Any]) -> int:
        """Number of knots of a galaxy with knots: disk size times ``knots_per_arcsec``."""
        low, high = self.config.n_knots_range
        n = round(self.config.knots_per_arcsec * float(row["disk_hlr_arcsec"]))
        return int(min(max(n, low), high))

    def _knot_fraction(self, state: str, log_ssfr: float) -> float:
        c = self.config
        if state == PASSIVE:
            return 0.0
        if state == UNKNOWN:
            return c.knot_fraction_default
        delta = log_ssfr - math.log10(c.ssfr_ref_per_yr)
        value = c.knot_fraction_ref + c.knot_fraction_slope_per_dex * delta
        return float(min(max(value, 0.0), c.knot_fraction_max))

    def _asym_probability(self, state: str, log_ssfr: float) -> float:
        c = self.config
        if state == PASSIVE:
            return c.asym_probability_passive
        if state == UNKNOWN:
            return c.asym_probability_default
        low, high = c.asym_probability_range
        delta = log_ssfr - math.log10(c.ssfr_ref_per_yr)
        value = c.asym_probability_ref + c.asym_probability_slope_per_dex * delta
        return float(min(max(value, low), high))

    # ----------------------------------------------------------------- random part

    def structure(self, row: Mapping[str, Any], rng: np.random.Generator) -> RealisticStructure:
        """Draw the galaxy's knots and asymmetry (always the same five draws from ``rng``)."""
        state, log_ssfr = self.star_formation(row)
        knot_seed = int(rng.integers(1, _GALSIM_SEED_MAX))
        u_asym, u_fraction, u_offset, u_angle = rng.random(4)
        has_disk = float(row["disk_flux_uJy"]) > 0
        knot_fraction = self._knot_fraction(state, log_ssfr) if has_disk else 0.0
        n_knots = self.n_knots(row) if knot_fraction > 0 else 0
        asymmetric = bool(has_disk and u_asym < self._asym_probability(state, log_ssfr))
        c = self.config
        asym_fraction = _from_unit(u_fraction, c.asym_light_fraction_range) if asymmetric else 0.0
        return RealisticStructure(
            state=state,
            log_ssfr=log_ssfr,
            knot_fraction=knot_fraction,
            n_knots=n_knots,
            knot_seed=knot_seed,
            asymmetric=asymmetric,
            asym_fraction=asym_fraction,
            asym_offset_hlr=_from_unit(u_offset, c.asym_offset_range_hlr),
            asym_angle_deg=360.0 * float(u_angle),
        )

    def profile_from_structure(
        self, row: Mapping[str, Any], structure: RealisticStructure
    ) -> galsim.GSObject:
        """The profile of a row with a given structure (no random draw).

        Raises
        ------
        ValueError
            If the row has neither bulge nor disk flux.
        """
        flux = float(row["flux_uJy"])
        bulge_flux, disk_flux = _component_fluxes(row)
        components = []
        if disk_flux > 0:
            q = float(row["disk_q"])
            hlr = float(row["disk_hlr_arcsec"]) * math.sqrt(q)
            shear = galsim.Shear(q=q, beta=float(row["disk_angle_deg"]) * galsim.degrees)
            knots_flux = disk_flux * structure.knot_fraction if structure.n_knots else 0.0
            asym_flux = disk_flux * structure.asym_fraction if structure.asymmetric else 0.0
            smooth_flux = disk_flux - knots_flux - asym_flux
            smooth = galsim.Exponential(half_light_radius=hlr, flux=smooth_flux, gsparams=GSPARAMS)
            components.append(smooth.shear(shear))
            if knots_flux > 0:
                knots = galsim.RandomKnots(
                    structure.n_knots,
                    profile=galsim.Exponential(
                        half_light_radius=hlr, flux=knots_flux, gsparams=GSPARAMS
                    ),
                    rng=galsim.BaseDeviate(structure.knot_seed),
                    gsparams=GSPARAMS,
                )
                components.append(knots.shear(shear))
            if asym_flux > 0:
                # azimuth in the disk plane from the major axis: before the shear, which
                # stretches along the major axis, the circular disk's azimuth is measured
                # from the position angle
                angle = math.radians(structure.asym_angle_deg + float(row["disk_angle_deg"]))
                offset = structure.asym_offset_hlr * hlr
                clump = galsim.Exponential(
                    half_light_radius=self.config.asym_size_ratio * hlr,
                    flux=asym_flux,
                    gsparams=GSPARAMS,
                ).shift(offset * math.cos(angle), offset * math.sin(angle))
                components.append(clump.shear(shear))
        if bulge_flux > 0:
            q = float(row["bulge_q"])
            hlr = float(row["bulge_hlr_arcsec"]) * math.sqrt(q)
            bulge = galsim.DeVaucouleurs(half_light_radius=hlr, flux=bulge_flux, gsparams=GSPARAMS)
            components.append(bulge.shear(q=q, beta=float(row["bulge_angle_deg"]) * galsim.degrees))
        if not components:
            raise ValueError("galaxy has neither bulge nor disk flux: nothing to draw")
        profile = components[0] if len(components) == 1 else galsim.Add(components)
        if not math.isclose(profile.flux, flux, rel_tol=1e-12):  # pragma: no cover (safety net)
            raise ValueError(
                f"realistic profile flux {profile.flux} differs from the catalogue flux {flux}"
            )
        return profile

    def profile(self, row: Mapping[str, Any], rng: np.random.Generator) -> galsim.GSObject:
        """:meth:`structure` then :meth:`profile_from_structure`."""
        if rng is None:
            raise ValueError(
                "the realistic morphology draws random numbers: pass a numpy Generator as rng"
            )
        return self.profile_from_structure(row, self.structure(row, rng))


def _finite_or_none(value: Any) -> float | None:
    """``float(value)`` if it is a finite number (bools included), else None."""
    if value is None:
        return None
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _from_unit(u: float, bounds: tuple[float, float]) -> float:
    low, high = bounds
    return float(low + (high - low) * u)


def _component_fluxes(row: Mapping[str, Any]) -> tuple[float, float]:
    """Bulge and disk flux, uJy, rescaled so that they add up to ``flux_uJy``."""
    flux = float(row["flux_uJy"])
    bulge = max(float(row["bulge_flux_uJy"]), 0.0)
    disk = max(float(row["disk_flux_uJy"]), 0.0)
    if bulge + disk <= 0:
        return 0.0, 0.0
    if disk == 0:
        return flux, 0.0
    if bulge == 0:
        return 0.0, flux
    bulge_flux = bulge * flux / (bulge + disk)
    return bulge_flux, flux - bulge_flux


# --------------------------------------------------------------------------- COSMOS


class CosmosMorphology(Morphology):
    """Real HST COSMOS galaxies (GalSim ``RealGalaxy``), for the VIS renderer.

    Rows come from :func:`data_generation.cosmos.read_cosmos_catalogue` and name
    their galaxy by ``cosmos_index``. The HST image is deconvolved by its HST PSF
    (``RealGalaxy``), rotated by a uniform random angle, and given the flux of the
    catalogue magnitude (F814W taken as VIS: ``flux_uJy = 10**(-0.4 (MAG - 23.9))``).
    The renderer then convolves it with the VIS PSF and draws it at 0.1 arcsec in uJy.

    The truth position angle (``disk_angle_deg``) is the fitted angle plus the
    rotation; the other truth values are those of the table (see
    :mod:`data_generation.cosmos`).

    Parameters
    ----------
    catalogue : path-like
        GalSim RealGalaxyCatalog FITS file (e.g. ``real_galaxy_catalog_25.2.fits``
        from ``galsim_download_cosmos``); its image files lie next to it.

    Raises
    ------
    FileNotFoundError
        The catalogue, or an image file it names, is missing.

    Notes
    -----
    The HST images hold the COSMOS noise (and, faintly, neighbours): once deconvolved,
    rescaled and convolved with the broader VIS PSF it is much smaller than the VIS
    noise, but the "noiseless" stamps are only as clean as the HST data.
    """

    name = "realistic"

    def __init__(self, catalogue: str | os.PathLike) -> None:
        from data_generation.cosmos import open_real_galaxy_catalogue

        self.catalogue = Path(catalogue)
        self._rgc = open_real_galaxy_catalogue(self.catalogue)

    def to_dict(self) -> dict[str, Any]:
        """Name, source (``cosmos``) and catalogue path."""
        return {"name": self.name, "source": "cosmos", "catalogue": str(self.catalogue)}

    def realise(self, row: Mapping[str, Any], rng: np.random.Generator) -> Realisation:
        """The rotated, rescaled real galaxy and its rotated position angle."""
        if rng is None:
            raise ValueError("the COSMOS morphology draws random rotations: pass rng")
        seed = int(rng.integers(1, _GALSIM_SEED_MAX))
        rotation_deg = float(rng.uniform(0.0, 360.0))
        galaxy = galsim.RealGalaxy(
            self._rgc,
            index=int(row["cosmos_index"]),
            flux=float(row["flux_uJy"]),
            rng=galsim.BaseDeviate(seed),
            gsparams=GSPARAMS,
        )
        profile = galaxy.rotate(rotation_deg * galsim.degrees)
        angle = float(row.get("disk_angle_deg", math.nan))
        return Realisation(profile, {"disk_angle_deg": _wrap_axis_angle(angle + rotation_deg)})

    def profile(self, row: Mapping[str, Any], rng: np.random.Generator) -> galsim.GSObject:
        """The profile of :meth:`realise`."""
        return self.realise(row, rng).profile


def _wrap_axis_angle(angle_deg: float) -> float:
    """An axis orientation in [-90, 90) degrees (NaN stays NaN)."""
    return (angle_deg + 90.0) % 180.0 - 90.0


# --------------------------------------------------------------------------- factory


def build_morphology(config: GenerationConfig) -> Morphology:
    """The morphology a generation configuration asks for.

    Parameters
    ----------
    config : GenerationConfig
        ``morphology`` ``"analytic"``, or ``"realistic"`` with ``cosmos_catalogue``
        (COSMOS galaxies) or without (the embedded model with ``config.realistic``).

    Returns
    -------
    Morphology
    """
    if config.morphology == "analytic":
        return AnalyticMorphology()
    if config.morphology == "realistic":
        if config.cosmos_catalogue is not None:
            return CosmosMorphology(config.cosmos_catalogue)
        return EmbeddedRealisticMorphology(config.realistic)
    raise ValueError(f"morphology {config.morphology!r} is not available")  # pragma: no cover
