"""Built-in galaxy catalogue generator following the EGG recipes (Schreiber et al. 2017).

When a user has no catalogue from ``egg-gencat`` (Schreiber et al. 2017, A&A 602,
A96), this module draws one with the same recipes, in pure numpy, and writes it in
EGG's FITS layout (:func:`data_generation.catalog.write_egg_fits`) so that it goes
through the same reader (:func:`data_generation.catalog.read_catalogue`) as a real
EGG file. It is seeded (:func:`numpy.random.default_rng`): the same configuration
gives the same catalogue, bit for bit.

What follows EGG
----------------
* Cosmology: flat LambdaCDM, H0 = 70 km/s/Mpc, Omega_m = 0.3 (EGG's ``std``).
* Redshift slices: logarithmic, ``z[i+1] = z[i] (1 + dz)`` with ``dz = 0.05``,
  widths clipped to [0.001, 0.5] (EGG's ``bin_dz``, ``min_dz``, ``max_dz``).
  Volume per slice: comoving volume of the shell times the field's solid angle.
* Stellar mass functions: double Schechter fits for star-forming and quiescent
  galaxies at z = 0.5, 0.95, 1.5, 2.15, 3, 4 (Schreiber et al. 2017, Table A.1,
  Salpeter IMF). Between those redshifts ``log10 phi(M)`` is interpolated linearly
  in z at fixed mass (as EGG rebins its mass functions, in log); outside
  [0.5, 4] the end fits are held (EGG also holds its end bins). The split between
  star-forming and quiescent galaxies *is* the two mass functions (``PASSIVE``).
* Bulge-to-total **mass** ratio, disk and bulge half-light radii (kpc, converted
  to arcsec with the angular-diameter distance) and their log-normal scatters,
  axis-ratio pdfs drawn independently for bulge and disk, position angles
  uniform in [-90, 90) deg shared by bulge and disk, main-sequence SFR with
  0.3 dex scatter and 3.3 % starbursts (+0.72 dex), quiescent SFR: all as in
  ``egg-gencat``. Empty components get ``M_BULGE``/``M_DISK`` = 0, as in EGG.

What does not follow EGG
------------------------
* Fluxes: EGG's optical SED library (chosen by UVJ colours) is not available, so
  the VIS flux comes from the documented approximation of
  :func:`vis_flux_uJy` (mass-to-light ratio, simple rest-frame SED with a 4000 A
  break, dust, IGM, distance modulus and the AB bandwidth term), calibrated here
  against published i-band / F814W galaxy counts (see the tests).
* Half-light radii: EGG's radii are calibrated on CANDELS F160W sizes; by
  default (``vis_size_correction``) they are moved to VIS with the published
  colour gradients of galaxy sizes (:func:`vis_size_factor`): disks 0-30 %
  larger, bulges 20 % larger. ``vis_size_correction=False`` keeps EGG's radii.
* Bulges have a quiescent (old) SED, disks the SED of their galaxy's type
  (EGG gives bulges of star-forming galaxies a red SED half of the time).
* Positions are uniform in the field: EGG's Soneira & Peebles clustering is not
  reproduced.
* Only one band, ``"euclid-vis"`` (0.55-0.90 um, effective wavelength 0.75 um).
* The galaxy counts per slice are Poisson draws (EGG rounds the expectation with
  a coin flip for the fractional part).
* Masses are drawn only above a redshift-dependent limit below which no galaxy
  can reach ``mag_limit_vis`` (like EGG's ``maglim`` option, but derived from the
  flux approximation of this module plus a 4-sigma margin for its scatter), and
  never below ``log10 M = 6``.

Redshift range
--------------
The default range is 0.05 < z < 7. EGG's default upper bound is 10.5, but beyond
z = 0.90 um / 0.1216 um - 1 = 6.4 the whole VIS band lies blueward of Lyman alpha,
where the intergalactic medium transmits less than ~3 % (Madau 1995), so such
galaxies are more than 4 mag fainter in VIS than their rest-frame UV would make
them and do not matter at VIS depth; 7 leaves a margin. Slices where even a
10^12 Msun galaxy cannot reach the magnitude limit are skipped.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass, fields
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from astropy.cosmology import FlatLambdaCDM
from scipy.special import gammainc, gammaincinv

from data_generation.catalog import AB_ZEROPOINT_UJY, write_egg_fits

log = logging.getLogger(__name__)

# ---------------------------------------------------------------------------
# Band and cosmology
# ---------------------------------------------------------------------------

#: Band name written in the catalogue (``BANDS``), as users name it in EGG.
VIS_BAND = "euclid-vis"

#: Effective wavelength of the VIS band in micrometres (written in ``LAMBDA``).
VIS_LAMBDA_UM = 0.75

#: VIS band edges in micrometres (the band is ~550-900 nm), modelled as a top hat.
VIS_BAND_EDGES_UM = (0.55, 0.90)

#: EGG's cosmology (``std``): flat, H0 = 70 km/s/Mpc, Omega_m = 0.3.
COSMOLOGY = FlatLambdaCDM(H0=70.0, Om0=0.3)

# ---------------------------------------------------------------------------
# Stellar mass functions (Schreiber et al. 2017, Table A.1; Salpeter IMF)
# ---------------------------------------------------------------------------

#: Redshifts of the double-Schechter fits.
SMF_Z = np.array([0.5, 0.95, 1.5, 2.15, 3.0, 4.0])

#: Star-forming galaxies, one row per redshift of :data:`SMF_Z`:
#: (phi*_1 [Mpc^-3], alpha_1, log10 M*_1 [Msun], phi*_2 [Mpc^-3], alpha_2, log10 M*_2).
#: The first component's M* = 1e11 Msun (log 11) in every fit.
SMF_STAR_FORMING = np.array(
    [
        [8.9e-4, -1.4, 11.0, 8.31e-5, 0.5, 10.64],
        [7.18e-4, -1.4, 11.0, 4.04e-4, 0.5, 10.73],
        [4.66e-4, -1.5, 11.0, 4.18e-4, 0.5, 10.67],
        [2.14e-4, -1.57, 11.0, 4.06e-4, 0.5, 10.84],
        [2.12e-4, -1.6, 11.0, 9.07e-5, 0.5, 10.94],
        [4.45e-5, -1.7, 11.0, 8.6e-6, 0.5, 11.69],
    ]
)

#: Quiescent galaxies, same layout as :data:`SMF_STAR_FORMING`.
SMF_QUIESCENT = np.array(
    [
        [7.77e-5, -1.65, 11.0, 1.54e-3, -0.48, 11.04],
        [3.54e-5, -1.6, 11.0, 1.04e-3, 0.06, 10.86],
        [2.3e-5, -1.25, 11.0, 6.25e-4, 0.3, 10.83],
        [1e-5, -1.0, 11.0, 1.73e-4, -0.17, 11.05],
        [0.0, -1.0, 11.0, 1.22e-4, -0.26, 10.94],
        [0.0, -1.0, 11.0, 3e-5, -0.3, 11.0],
    ]
)

#: Lowest stellar mass ever drawn, log10 Msun. Chosen here: a 10^6 Msun galaxy is
#: fainter than VIS 26.5 beyond z = 0.05, so lighter ones do not matter at VIS depth.
LOG_MASS_FLOOR = 6.0

#: Mass grid steps for sampling the mass functions and for the mass limit, dex.
_MASS_STEP = 0.005
_MASS_LIMIT_STEP = 0.01

# ---------------------------------------------------------------------------
# Morphology and star formation (egg-gencat recipes)
# ---------------------------------------------------------------------------

#: Axis-ratio pdf nodes (b/a) and weights, piecewise linear (egg-gencat, calibrated
#: on CANDELS single-Sersic fits: bulges n > 2.5 and M* > 10^10.5, disks n < 1.5).
AXIS_RATIO_X = np.array([0.0, 0.1, 0.15, 0.25, 0.35, 0.45, 0.55, 0.65, 0.75, 0.85, 0.95, 1.0])
AXIS_RATIO_P_BULGE = np.array(
    [0.0, 0.0, 165.0, 428.0, 773.0, 914.0, 1069.0, 1191.0, 1154.0, 1067.0, 639.0, 450.0]
)
AXIS_RATIO_P_DISK = np.array(
    [0.0, 0.0, 313.0, 900.0, 1143.0, 1127.0, 1059.0, 898.0, 775.0, 548.0, 318.0, 200.0]
)

#: Log-normal scatter of B/T (dex), disk radius (dex), bulge radius (dex) (egg-gencat).
BT_SCATTER_DEX = 0.2
DISK_RADIUS_SCATTER_DEX = 0.17
BULGE_RADIUS_SCATTER_DEX = 0.2

#: Main-sequence scatter (dex), quiescent SFR scatter (dex), starburst fraction and
#: boost (dex) (egg-gencat: ``ms_disp``, 0.4, 0.033, 0.72).
MS_SCATTER_DEX = 0.3
QUIESCENT_SFR_SCATTER_DEX = 0.4
STARBURST_FRACTION = 0.033
STARBURST_BOOST_DEX = 0.72

#: EGG's sizes are calibrated on CANDELS F160W fits (van der Wel et al. 2012,
#: ApJS 203, 24), effective wavelength in micrometres. Galaxies look larger at
#: shorter wavelengths, so with ``vis_size_correction`` the radii are moved to VIS
#: with the colour gradients of van der Wel et al. (2014, ApJ 788, 28, eqs. 1-2):
#: ``dlog R / dlog lambda = -0.35 + 0.12 z - 0.25 log10(M / 10^10 Msun)`` for disks
#: (late types; M in Chabrier, z clipped to [0, 3] and log M to [9, 11.5], the
#: range where it was measured) and -0.25 for bulges (early types).
SIZE_CALIBRATION_LAMBDA_UM = 1.54

#: Salpeter -> Chabrier stellar mass offset, dex (EGG's own conversion).
SALPETER_TO_CHABRIER_DEX = -0.24

# ---------------------------------------------------------------------------
# VIS flux approximation (this module's own; see vis_flux_uJy)
# ---------------------------------------------------------------------------

#: Absolute AB magnitude of the Sun in the V band (Willmer 2018, ApJS 236, 47).
M_SUN_V_AB = 4.81

#: Rest-frame V-band mass-to-light ratio ``Y_V`` (Msun/Lsun, Salpeter IMF) at z = 0
#: of the (dust-free) star-forming and of the quiescent stellar populations, and
#: its evolution ``log10 Y_V(z) = log10 Y_V(0) + slope log10(1 + z)``.
#: Starting values: Bell & de Jong (2001, ApJ 550, 212) and Bell et al. (2003, ApJS
#: 149, 289) colour-M/L relations for blue (B-V ~ 0.4: Y_V ~ 0.8) and red
#: (B-V ~ 0.9: Y_V ~ 5) galaxies, converted to Salpeter; slope -1.6 for the
#: passive fading of quiescent populations (van Dokkum & Franx 2001, ApJ 553, 90:
#: dlog(M/L_B)/dz ~ -0.5 at z < 1) and -1.0 for star-forming ones (rising sSFR).
#: Calibrated here against the i-band counts of COSMOS2020 (Weaver et al. 2022,
#: ApJS 258, 11, Table 2) over 19.5 < i < 26.5: the star-forming values became
#: Y_V(0) = 0.55 and slope -0.8 (counts within 0.05 dex everywhere, see
#: tests/data_generation/test_egg_recipes.py); the quiescent ones were kept.
LOG_ML_V_Z0 = {"sf": math.log10(0.55), "q": math.log10(5.0)}
LOG_ML_V_SLOPE = {"sf": -0.80, "q": -1.60}

#: Redshift beyond which the mass-to-light evolution is held.
ML_Z_HOLD = 4.0

#: Log-normal scatter of the mass-to-light ratio at fixed mass, redshift and type,
#: dex (typical scatter of colour-based M/L, Bell & de Jong 2001: 0.1-0.2 dex).
ML_SCATTER_DEX = 0.15

#: Number of ``ML_SCATTER_DEX`` added to the brightest possible flux when deriving
#: the mass limit (4 sigma: fewer than 3e-5 of the galaxies at the limit are lost).
MASS_LIMIT_SIGMAS = 4.0

#: Rest-frame SED shapes: AB colour ``C(lambda) = -2.5 log10(f_nu(lambda) / f_nu(0.55 um))``
#: at these rest wavelengths (um), interpolated linearly in log(lambda) and held
#: beyond the ends. ``"sf"``: dust-free star-forming population (flat f_nu in the
#: UV, UV slope beta ~ -2, a ~0.35 mag Balmer/4000 A break, U-V ~ 0.55, V-J ~ 0.4);
#: ``"q"``: quiescent population (4000 A break, U-V ~ 1.8, V-J ~ 1.25 as in EGG's
#: red UVJ sequence, NUV-V ~ 3.6 for a few-Gyr-old population, Bruzual & Charlot
#: 2003 ballpark). Chosen here; the counts test checks the result.
SED_LAMBDA_UM = np.array(
    [0.09, 0.15, 0.20, 0.25, 0.30, 0.36, 0.40, 0.44, 0.55, 0.65, 0.80, 1.00, 1.25]
)
SED_COLOUR_AB = {
    "sf": np.array(
        [0.45, 0.30, 0.30, 0.35, 0.42, 0.55, 0.45, 0.22, 0.0, -0.15, -0.28, -0.36, -0.40]
    ),
    "q": np.array([5.5, 4.6, 4.1, 3.6, 2.9, 1.8, 1.1, 0.55, 0.0, -0.33, -0.65, -0.95, -1.25]),
}

#: Dust attenuation of star-forming populations, V band (mag):
#: ``A_V = clip(DUST_AV_10 + DUST_AV_SLOPE g(z) (log10 M - 10), 0, DUST_AV_MAX)`` with
#: the galaxy's total stellar mass M (Salpeter) and
#: ``g(z) = (0.45 min(z, 3) + 0.35) / 0.8``, the redshift evolution of the slope of
#: the IRX-mass relation used by egg-gencat (Schreiber et al. 2017), normalised to
#: 1 at z = 1. Applied with the Calzetti et al. (2000, ApJ 533, 682, eq. 4,
#: R_V = 4.05) curve at the rest-frame wavelength of VIS. Starting point: the
#: Halpha attenuation-mass relation of Garn & Best (2010, MNRAS 409, 421) at
#: z ~ 0.1 converted to stellar continuum (A_V,star = 0.44 A_V,gas), which gives
#: A_V ~ 0.5 at 10^10 Msun and ~0.4 mag/dex (here 0.6 g(0.1) = 0.3 mag/dex); the
#: normalisation DUST_AV_10 was calibrated here against the counts (0.6 -> 0.4).
DUST_AV_10 = 0.4
DUST_AV_SLOPE = 0.6
DUST_AV_MAX = 2.5
CALZETTI_RV = 4.05

#: Lyman-alpha forest effective optical depth ``tau = 0.0036 (lambda_obs / 1216 A)^3.46``
#: (Madau 1995, ApJ 441, 18, eq. 15, Lyman alpha term); no flux below the Lyman limit.
IGM_TAU_LYA = (0.0036, 3.46)
LYMAN_ALPHA_UM = 0.1216
LYMAN_LIMIT_UM = 0.0912

#: Redshift grid of the cached distance and k-correction tables.
_Z_GRID = np.concatenate([np.linspace(0.0, 0.05, 51)[:-1], np.geomspace(0.05, 12.0, 3000)])


# ---------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------


@dataclass
class EggRecipeConfig:
    """Parameters of a generated catalogue.

    Attributes
    ----------
    area_deg2 : float
        Field area in square degrees. The field is bounded by two parallels
        ``sqrt(area_deg2)`` degrees apart, centred on ``dec0_deg``, and two
        meridians placed so that the solid angle is exactly ``area_deg2``.
    mag_limit_vis : float
        AB magnitude limit in VIS: fainter galaxies are dropped (default 27).
    z_min, z_max : float
        Redshift range (default 0.05 to 7; see the module docstring for why 7).
    seed : int
        Seed of :func:`numpy.random.default_rng` (EGG's default, 42).
    ra0_deg, dec0_deg : float
        Field centre in degrees (EGG's default: GOODS-South).
    log_mass_max : float
        Upper mass limit, log10 Msun (EGG's default, 12).
    dz : float
        Relative width of the redshift slices (EGG's default, 0.05).
    vis_size_correction : bool
        Move EGG's radii (calibrated in F160W) to VIS with the colour gradients
        of :func:`vis_size_factor` (default). False keeps EGG's radii unchanged.
    """

    area_deg2: float
    mag_limit_vis: float = 27.0
    z_min: float = 0.05
    z_max: float = 7.0
    seed: int = 42
    ra0_deg: float = 53.558750
    dec0_deg: float = -27.176001
    log_mass_max: float = 12.0
    dz: float = 0.05
    vis_size_correction: bool = True

    def __post_init__(self) -> None:
        if not (self.area_deg2 > 0 and math.isfinite(self.area_deg2)):
            raise ValueError(f"area_deg2 must be a positive number, got {self.area_deg2}")
        if not math.isfinite(self.mag_limit_vis):
            raise ValueError(f"mag_limit_vis must be finite, got {self.mag_limit_vis}")
        if not 0 < self.z_min < self.z_max:
            raise ValueError(f"need 0 < z_min < z_max, got z_min={self.z_min}, z_max={self.z_max}")
        if self.z_max > _Z_GRID[-1]:
            raise ValueError(f"z_max must be at most {_Z_GRID[-1]}, got {self.z_max}")
        if not 0 < self.dz < 2:
            raise ValueError(f"dz must be in (0, 2), got {self.dz}")
        if not LOG_MASS_FLOOR < self.log_mass_max <= 13:
            raise ValueError(f"log_mass_max must be in ({LOG_MASS_FLOOR}, 13]")
        half_side = math.sqrt(self.area_deg2) / 2
        if abs(self.dec0_deg) + half_side >= 90:
            raise ValueError(
                "the field would reach a celestial pole: lower area_deg2 or |dec0_deg|"
            )
        if _ra_span_deg(self.area_deg2, self.dec0_deg) > 360:
            raise ValueError(f"area_deg2 = {self.area_deg2} does not fit in one band of RA")
        self.seed = int(self.seed)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dictionary of the parameters."""
        out: dict[str, Any] = {}
        for key, value in asdict(self).items():
            if key == "seed":
                out[key] = int(value)
            elif key == "vis_size_correction":
                out[key] = bool(value)
            else:
                out[key] = float(value)
        return out

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> EggRecipeConfig:
        """Build a configuration from :meth:`to_dict` output.

        Raises
        ------
        ValueError
            An unknown key is present (named).
        """
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown EggRecipeConfig key(s): {', '.join(unknown)}")
        return cls(**values)


# ---------------------------------------------------------------------------
# Cosmology tables
# ---------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _distance_tables() -> dict[str, np.ndarray]:
    """Comoving, luminosity and angular-diameter distances (Mpc) on ``_Z_GRID``."""
    d_c = COSMOLOGY.comoving_distance(_Z_GRID).to_value("Mpc")
    return {
        "z": _Z_GRID,
        "comoving": d_c,
        "luminosity": d_c * (1 + _Z_GRID),
        "angular": d_c / (1 + _Z_GRID),
    }


def luminosity_distance_mpc(z: np.ndarray | float) -> np.ndarray:
    """Luminosity distance (flat LambdaCDM, H0 = 70, Omega_m = 0.3).

    Parameters
    ----------
    z : array-like
        Redshift, 0 to 12 (tabulated and interpolated).

    Returns
    -------
    numpy.ndarray
        Luminosity distance in Mpc.
    """
    t = _distance_tables()
    return np.interp(z, t["z"], t["luminosity"])


def kpc_per_arcsec(z: np.ndarray | float) -> np.ndarray:
    """Angular-diameter scale at redshift ``z``.

    Parameters
    ----------
    z : array-like
        Redshift, 0 to 12.

    Returns
    -------
    numpy.ndarray
        Proper size in kpc of one arcsecond.
    """
    t = _distance_tables()
    d_a_kpc = np.interp(z, t["z"], t["angular"]) * 1e3
    return d_a_kpc * (math.pi / 180.0 / 3600.0)


def comoving_volume_mpc3(
    z1: np.ndarray | float, z2: np.ndarray | float, area_deg2: float
) -> np.ndarray:
    """Comoving volume of a redshift shell over a patch of sky.

    Parameters
    ----------
    z1, z2 : array-like
        Lower and upper redshifts of the shell.
    area_deg2 : float
        Solid angle in square degrees.

    Returns
    -------
    numpy.ndarray
        Comoving volume in Mpc^3 (flat universe: solid angle x (D_C2^3 - D_C1^3) / 3).
    """
    t = _distance_tables()
    d1 = np.interp(z1, t["z"], t["comoving"])
    d2 = np.interp(z2, t["z"], t["comoving"])
    solid_angle_sr = area_deg2 * (math.pi / 180.0) ** 2
    return solid_angle_sr * (d2**3 - d1**3) / 3.0


def redshift_slices(z_min: float, z_max: float, dz: float = 0.05) -> np.ndarray:
    """EGG's logarithmic redshift slices.

    Edges grow as ``z[i+1] = z[i] (1 + dz)``, with slice widths clipped to
    [0.001, 0.5]; a last slice narrower than ``min(0.5 z_max dz, 0.001)`` is merged
    into the previous one (``egg-gencat``'s ``make_zbins``).

    Parameters
    ----------
    z_min, z_max : float
        Redshift range.
    dz : float
        Relative slice width.

    Returns
    -------
    numpy.ndarray
        Slice edges, shape ``(nslice + 1,)``.
    """
    edges = [z_min]
    z = z_min
    while True:
        step = min(max(z * dz, 0.001), 0.5)
        z = z + step
        if z >= z_max:
            break
        edges.append(z)
    if len(edges) > 1 and z_max - edges[-1] < min(0.5 * z_max * dz, 0.001):
        edges[-1] = z_max
    else:
        edges.append(z_max)
    return np.asarray(edges)


# ---------------------------------------------------------------------------
# Mass functions
# ---------------------------------------------------------------------------


def _double_schechter(log_mass: np.ndarray, params: np.ndarray) -> np.ndarray:
    """Double Schechter function in Mpc^-3 dex^-1 for one row of parameters."""
    phi1, a1, lm1, phi2, a2, lm2 = params
    x1 = 10.0 ** (log_mass - lm1)
    x2 = 10.0 ** (log_mass - lm2)
    return math.log(10) * (
        phi1 * x1 ** (a1 + 1) * np.exp(-x1) + phi2 * x2 ** (a2 + 1) * np.exp(-x2)
    )


def stellar_mass_function(log_mass: np.ndarray, z: float, quiescent: bool) -> np.ndarray:
    """Stellar mass function of one population at redshift ``z``.

    Parameters
    ----------
    log_mass : numpy.ndarray
        log10 stellar mass, Msun (Salpeter IMF).
    z : float
        Redshift. ``log10 phi`` is interpolated linearly in z between the fits of
        :data:`SMF_Z`; outside [0.5, 4] the end fits are used.
    quiescent : bool
        Quiescent (True) or star-forming (False) population.

    Returns
    -------
    numpy.ndarray
        Number density in Mpc^-3 dex^-1.
    """
    table = SMF_QUIESCENT if quiescent else SMF_STAR_FORMING
    log_mass = np.asarray(log_mass, dtype=np.float64)
    zc = float(np.clip(z, SMF_Z[0], SMF_Z[-1]))
    i = int(np.clip(np.searchsorted(SMF_Z, zc) - 1, 0, len(SMF_Z) - 2))
    w = (zc - SMF_Z[i]) / (SMF_Z[i + 1] - SMF_Z[i])
    with np.errstate(divide="ignore", under="ignore", over="ignore"):
        lo = np.log10(_double_schechter(log_mass, table[i]))
        hi = np.log10(_double_schechter(log_mass, table[i + 1]))
    return 10.0 ** ((1 - w) * lo + w * hi)


# ---------------------------------------------------------------------------
# VIS flux approximation
# ---------------------------------------------------------------------------


def calzetti_k(lambda_um: np.ndarray) -> np.ndarray:
    """Calzetti et al. (2000) attenuation curve k(lambda) = A_lambda / E(B-V).

    Eq. 4 of Calzetti et al. (2000, ApJ 533, 682) with R_V = 4.05; held at its
    value at 0.12 um below 0.12 um and at 2.2 um above 2.2 um.

    Parameters
    ----------
    lambda_um : array-like
        Rest-frame wavelength in micrometres.

    Returns
    -------
    numpy.ndarray
        k(lambda) (dimensionless; A_lambda = A_V k / 4.05).
    """
    lam = np.clip(np.asarray(lambda_um, dtype=np.float64), 0.12, 2.2)
    x = 1.0 / lam
    blue = 2.659 * (-2.156 + 1.509 * x - 0.198 * x**2 + 0.011 * x**3) + CALZETTI_RV
    red = 2.659 * (-1.857 + 1.040 * x) + CALZETTI_RV
    return np.where(lam < 0.63, blue, red)


def _igm_transmission(lambda_obs_um: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Intergalactic transmission at observed wavelengths for sources at ``z``."""
    lya = LYMAN_ALPHA_UM * (1 + z)
    lyl = LYMAN_LIMIT_UM * (1 + z)
    a, b = IGM_TAU_LYA
    forest = np.exp(-a * (lambda_obs_um / LYMAN_ALPHA_UM) ** b)
    return np.where(lambda_obs_um >= lya, 1.0, np.where(lambda_obs_um > lyl, forest, 0.0))


@lru_cache(maxsize=4)
def _kcorrection_table(population: str) -> np.ndarray:
    """Band-averaged colour term K(z) in AB mag on ``_Z_GRID`` (IGM included).

    ``K(z) = -2.5 log10 <f_nu(lambda / (1+z)) T_IGM> / f_nu(0.55 um)`` where the
    average runs over the VIS top-hat band with weight ``d lambda / lambda``
    (photon-counting detector, AB convention). Dust is not included.
    """
    lam_obs = np.linspace(*VIS_BAND_EDGES_UM, 141)
    weights = 1.0 / lam_obs
    weights /= weights.sum()
    z = _Z_GRID[:, None]
    lam_rest = lam_obs[None, :] / (1 + z)
    colour = np.interp(np.log(lam_rest), np.log(SED_LAMBDA_UM), SED_COLOUR_AB[population])
    fnu = 10.0 ** (-0.4 * colour) * _igm_transmission(lam_obs[None, :], z)
    mean = (fnu * weights[None, :]).sum(axis=1)
    with np.errstate(divide="ignore"):
        return -2.5 * np.log10(mean)


def _log_ml_v(z: np.ndarray, population: str) -> np.ndarray:
    """log10 rest-frame V-band M/L (Msun/Lsun, Salpeter) at redshift ``z``."""
    zc = np.minimum(z, ML_Z_HOLD)
    return LOG_ML_V_Z0[population] + LOG_ML_V_SLOPE[population] * np.log10(1 + zc)


def dust_av(log_mstar_galaxy: np.ndarray | float, z: np.ndarray | float) -> np.ndarray:
    """V-band dust attenuation (mag) of star-forming populations.

    ``A_V = clip(DUST_AV_10 + DUST_AV_SLOPE g(z) (log10 M - 10), 0, DUST_AV_MAX)``
    with ``g(z) = (0.45 min(z, 3) + 0.35) / 0.8``; see :data:`DUST_AV_10`.
    """
    m = np.asarray(log_mstar_galaxy, dtype=np.float64)
    g = (0.45 * np.minimum(z, 3.0) + 0.35) / 0.8
    return np.clip(DUST_AV_10 + DUST_AV_SLOPE * g * (m - 10.0), 0.0, DUST_AV_MAX)


def vis_mag_ab(
    log_mstar: np.ndarray | float,
    z: np.ndarray | float,
    quiescent: np.ndarray | bool,
    log_mstar_galaxy: np.ndarray | float | None = None,
) -> np.ndarray:
    """VIS AB magnitude of a stellar population.

    Same parameters as :func:`vis_flux_uJy`, which documents the model.

    Returns
    -------
    numpy.ndarray
        AB magnitude in the VIS band.
    """
    log_mstar = np.asarray(log_mstar, dtype=np.float64)
    z = np.asarray(z, dtype=np.float64)
    quiescent = np.asarray(quiescent, dtype=bool)
    if log_mstar_galaxy is None:
        log_mstar_galaxy = log_mstar
    log_mstar_galaxy = np.asarray(log_mstar_galaxy, dtype=np.float64)
    log_mstar, z, quiescent, log_mstar_galaxy = np.broadcast_arrays(
        log_mstar, z, quiescent, log_mstar_galaxy
    )
    if np.any(z <= 0):
        raise ValueError("redshifts must be > 0")
    dist_mod = 5.0 * np.log10(luminosity_distance_mpc(z) * 1e5)  # D_L in units of 10 pc
    k_sf = np.interp(z, _Z_GRID, _kcorrection_table("sf"))
    k_q = np.interp(z, _Z_GRID, _kcorrection_table("q"))
    log_ml = np.where(quiescent, _log_ml_v(z, "q"), _log_ml_v(z, "sf"))
    k_term = np.where(quiescent, k_q, k_sf)
    lam_rest = VIS_LAMBDA_UM / (1 + z)
    dust = np.where(
        quiescent, 0.0, dust_av(log_mstar_galaxy, z) * calzetti_k(lam_rest) / CALZETTI_RV
    )
    abs_mag_v = M_SUN_V_AB + 2.5 * log_ml - 2.5 * log_mstar
    return abs_mag_v + k_term + dust + dist_mod - 2.5 * np.log10(1 + z)


def vis_flux_uJy(
    log_mstar: np.ndarray | float,
    z: np.ndarray | float,
    quiescent: np.ndarray | bool,
    log_mstar_galaxy: np.ndarray | float | None = None,
) -> np.ndarray:
    """Approximate Euclid VIS flux of a stellar population of given mass and redshift.

    EGG's SED library is not available, so the flux is built from a rest-frame
    V-band mass-to-light ratio and a simple rest-frame SED:

    ``m_VIS = M_sun,V + 2.5 log10(Y_V(z)) - 2.5 log10(M)``   (absolute V magnitude)
    ``      + K(z)``                 (SED shape, 4000 A break, IGM; band average)
    ``      + A_V k(0.75 um / (1+z)) / 4.05``   (dust, star-forming only)
    ``      + 5 log10(D_L / 10 pc) - 2.5 log10(1 + z)``  (distance, AB bandwidth)

    and ``F = 10^(-0.4 (m_VIS - 23.9))`` uJy. ``Y_V(z)`` (:data:`LOG_ML_V_Z0`,
    :data:`LOG_ML_V_SLOPE`) differs for star-forming and quiescent populations and
    decreases with redshift; ``K(z)`` averages the rest-frame SED of
    :data:`SED_COLOUR_AB`, seen through the IGM (:data:`IGM_TAU_LYA`), over the
    0.55-0.90 um band; dust follows :func:`dust_av` and the Calzetti curve. No
    scatter is added here (the generator adds :data:`ML_SCATTER_DEX`).

    Parameters
    ----------
    log_mstar : array-like
        log10 stellar mass of the population, Msun (Salpeter IMF).
    z : array-like
        Redshift (> 0).
    quiescent : array-like of bool
        Quiescent (old, red) population if True, star-forming (young, dusty) if False.
    log_mstar_galaxy : array-like, optional
        log10 total stellar mass of the host galaxy, Msun, which sets the dust
        attenuation of star-forming populations (default: ``log_mstar``).

    Returns
    -------
    numpy.ndarray
        Flux in microJansky (broadcast shape of the inputs).
    """
    return 10.0 ** (
        -0.4 * (vis_mag_ab(log_mstar, z, quiescent, log_mstar_galaxy) - AB_ZEROPOINT_UJY)
    )


def _brightest_log_flux(z: float) -> tuple[np.ndarray, np.ndarray]:
    """Mass grid (log10 Msun) and log10 of the brightest VIS flux (uJy) at ``z``.

    A galaxy's light is bounded by that of its brightest population (star-forming
    with the dust of its mass, or quiescent) holding all of its mass.
    """
    grid = np.arange(LOG_MASS_FLOOR, 13.0 + 1e-9, _MASS_LIMIT_STEP)
    f_sf = vis_flux_uJy(grid, z, False)
    f_q = vis_flux_uJy(grid, z, True)
    return grid, np.log10(np.maximum(f_sf, f_q))


def mass_limit(z_values: np.ndarray, mag_limit_vis: float, log_mass_max: float = 12.0) -> float:
    """Lowest log10 stellar mass (Msun) that can reach ``mag_limit_vis`` at any of ``z_values``.

    The brightest population (star-forming or quiescent) at each mass is taken,
    boosted by :data:`MASS_LIMIT_SIGMAS` times the M/L scatter.

    Parameters
    ----------
    z_values : array-like
        Redshifts at which the limit is evaluated (the lowest mass wins).
    mag_limit_vis : float
        VIS AB magnitude limit.
    log_mass_max : float
        Highest mass considered, log10 Msun.

    Returns
    -------
    float
        Mass limit in log10 Msun (Salpeter), never below :data:`LOG_MASS_FLOOR`;
        ``inf`` when no mass up to ``log_mass_max`` can reach the limit.
    """
    log_flim = -0.4 * (mag_limit_vis - AB_ZEROPOINT_UJY)
    best = math.inf
    margin = MASS_LIMIT_SIGMAS * ML_SCATTER_DEX  # dex in flux
    for z in np.atleast_1d(z_values):
        grid, logf = _brightest_log_flux(float(z))
        ok = np.nonzero((logf + margin >= log_flim) & (grid <= log_mass_max))[0]
        if ok.size:
            # one grid step lower: the crossing lies between two grid masses
            best = min(best, float(grid[ok[0]]) - _MASS_LIMIT_STEP)
    return max(best, LOG_MASS_FLOOR)


# ---------------------------------------------------------------------------
# Sampling helpers
# ---------------------------------------------------------------------------


def _sample_piecewise_linear_pdf(
    rng: np.random.Generator, x: np.ndarray, p: np.ndarray, n: int
) -> np.ndarray:
    """Draw ``n`` values from the pdf linear between nodes ``(x, p)`` (exact inverse CDF).

    Parameters
    ----------
    rng : numpy.random.Generator
        Random generator.
    x, p : numpy.ndarray
        Increasing nodes and the (unnormalised, >= 0) pdf there.
    n : int
        Number of draws.

    Returns
    -------
    numpy.ndarray
        Draws, in the unit of ``x``.
    """
    x = np.asarray(x, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    seg = 0.5 * (p[1:] + p[:-1]) * np.diff(x)
    cdf = np.concatenate([[0.0], np.cumsum(seg)])
    u = rng.random(n) * cdf[-1]
    i = np.clip(np.searchsorted(cdf, u, side="right") - 1, 0, len(seg) - 1)
    # within a segment p(t) = p0 + s t, t in [0, dx]: solve p0 t + s t^2 / 2 = r with the
    # cancellation-free root t = 2 r / (p0 + sqrt(p0^2 + 2 s r))
    r = u - cdf[i]
    p0 = p[i]
    dx = x[i + 1] - x[i]
    s = (p[i + 1] - p[i]) / dx
    denom = p0 + np.sqrt(np.maximum(p0**2 + 2 * s * r, 0.0))
    t = np.where(denom > 0, 2 * r / np.where(denom > 0, denom, 1.0), 0.0)
    return x[i] + np.clip(t, 0.0, dx)


def _axis_ratios(rng: np.random.Generator, n: int, pdf: np.ndarray) -> np.ndarray:
    """Axis ratios b/a drawn from EGG's piecewise-linear pdf (weights ``pdf``)."""
    q = _sample_piecewise_linear_pdf(rng, AXIS_RATIO_X, pdf, n)
    return np.clip(q, 1e-3, 1.0)


def main_sequence_log_sfr(log_mstar: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Main-sequence star formation rate of Schreiber et al. (2015), as in EGG.

    ``log SFR = m - 9.67 + 1.82 a - 0.38 max(0, m - 9.59 - 2.22 a)^2``, ``a = log10(1+z)``.

    Parameters
    ----------
    log_mstar : array-like
        log10 stellar mass ``m``, Msun (Salpeter).
    z : array-like
        Redshift.

    Returns
    -------
    numpy.ndarray
        log10 SFR in Msun/yr (Salpeter).
    """
    a = np.log10(1 + z)
    return log_mstar - 9.67 + 1.82 * a - 0.38 * np.maximum(0.0, log_mstar - 9.59 - 2.22 * a) ** 2


def disk_radius_kpc(log_mstar: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Median disk half-light radius (egg-gencat, calibrated on CANDELS F160W).

    ``10^[0.41 - 0.22 log(1+z) + 0.2 (min(m, 10.6) - 9.35)]`` at z < 1.7,
    ``10^[0.62 - 0.7 log(1+z) + 0.2 (min(m, 10.6) - 9.35)]`` above.

    Parameters
    ----------
    log_mstar : array-like
        log10 total stellar mass ``m`` of the galaxy, Msun (Salpeter).
    z : array-like
        Redshift.

    Returns
    -------
    numpy.ndarray
        Half-light radius along the major axis, kpc (proper).
    """
    m = np.minimum(log_mstar, 10.6) - 9.35
    lz = np.log10(1 + z)
    return np.where(z < 1.7, 10 ** (0.41 - 0.22 * lz + 0.2 * m), 10 ** (0.62 - 0.7 * lz + 0.2 * m))


def bulge_radius_kpc(log_mstar: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Median bulge half-light radius (egg-gencat, calibrated on CANDELS F160W).

    ``10^[0.78 - 0.6 log(1+z) + 0.56 (m - 11.25)]`` at z < 0.5,
    ``10^[0.90 - 1.3 log(1+z) + 0.56 (m - 11.25)]`` above.

    Parameters
    ----------
    log_mstar : array-like
        log10 total stellar mass ``m`` of the galaxy, Msun (Salpeter).
    z : array-like
        Redshift.

    Returns
    -------
    numpy.ndarray
        Half-light radius along the major axis, kpc (proper).
    """
    m = log_mstar - 11.25
    lz = np.log10(1 + z)
    return np.where(z < 0.5, 10 ** (0.78 - 0.6 * lz + 0.56 * m), 10 ** (0.90 - 1.3 * lz + 0.56 * m))


def vis_size_factor(log_mstar: np.ndarray, z: np.ndarray, bulge: bool) -> np.ndarray:
    """Ratio of VIS to F160W half-light radius (see :data:`SIZE_CALIBRATION_LAMBDA_UM`).

    Parameters
    ----------
    log_mstar : numpy.ndarray
        log10 stellar mass of the galaxy, Msun (Salpeter).
    z : numpy.ndarray
        Redshift.
    bulge : bool
        Bulge (early-type gradient) or disk (late-type gradient).

    Returns
    -------
    numpy.ndarray
        Multiplicative factor on the radius (> 1 when VIS sizes are larger).
    """
    log_ratio = math.log10(VIS_LAMBDA_UM / SIZE_CALIBRATION_LAMBDA_UM)
    if bulge:
        slope = np.full(np.shape(z), -0.25)
    else:
        m_chab = np.clip(np.asarray(log_mstar) + SALPETER_TO_CHABRIER_DEX, 9.0, 11.5)
        slope = -0.35 + 0.12 * np.clip(z, 0.0, 3.0) - 0.25 * (m_chab - 10.0)
    return 10.0 ** (slope * log_ratio)


def _ra_span_deg(area_deg2: float, dec0_deg: float) -> float:
    half = math.radians(math.sqrt(area_deg2) / 2)
    dec0 = math.radians(dec0_deg)
    band = math.sin(dec0 + half) - math.sin(dec0 - half)
    return math.degrees(area_deg2 * (math.pi / 180) ** 2 / band)


# ---------------------------------------------------------------------------
# Generator
# ---------------------------------------------------------------------------


def generate_egg_columns(config: EggRecipeConfig) -> dict[str, np.ndarray]:
    """Draw a galaxy catalogue with the EGG recipes.

    Parameters
    ----------
    config : EggRecipeConfig
        Area, magnitude limit, redshift range and seed.

    Returns
    -------
    dict of str to numpy.ndarray
        EGG columns, one entry per galaxy brighter than ``config.mag_limit_vis``:
        ``ID`` (int64); ``RA``, ``DEC`` (deg); ``Z``; ``D`` (luminosity distance,
        Mpc); ``M``, ``M_BULGE``, ``M_DISK`` (log10 Msun, Salpeter; 0 for an empty
        component, as EGG writes); ``SFR`` (Msun/yr); ``PASSIVE`` (bool);
        ``DISK_RADIUS``, ``BULGE_RADIUS`` (half-light radius along the major axis,
        arcsec); ``DISK_RATIO``, ``BULGE_RATIO`` (b/a); ``DISK_ANGLE``,
        ``BULGE_ANGLE`` (deg, [-90, 90)); ``BT`` (bulge-to-total *mass* ratio);
        ``FLUX``, ``FLUX_BULGE``, ``FLUX_DISK`` (uJy, shape ``(ngal, 1)`` for the
        single band ``"euclid-vis"``). Galaxies are ordered by redshift slice.
    """
    t0 = time.perf_counter()
    rng = np.random.default_rng(config.seed)
    edges = redshift_slices(config.z_min, config.z_max, config.dz)
    t = _distance_tables()
    dc3 = t["comoving"] ** 3
    flim = float(10.0 ** (-0.4 * (config.mag_limit_vis - AB_ZEROPOINT_UJY)))

    z_parts: list[np.ndarray] = []
    m_parts: list[np.ndarray] = []
    q_parts: list[np.ndarray] = []
    n_drawn = 0
    for z1, z2 in zip(edges[:-1], edges[1:], strict=True):
        m_lim = mass_limit(
            np.array([z1, 0.5 * (z1 + z2), z2]), config.mag_limit_vis, config.log_mass_max
        )
        if m_lim >= config.log_mass_max:
            continue
        zc = 0.5 * (z1 + z2)
        volume = float(comoving_volume_mpc3(z1, z2, config.area_deg2))
        grid = np.arange(m_lim, config.log_mass_max + 0.5 * _MASS_STEP, _MASS_STEP)
        for quiescent in (False, True):
            phi = stellar_mass_function(grid, zc, quiescent)
            cdf = np.concatenate([[0.0], np.cumsum(0.5 * (phi[1:] + phi[:-1]) * np.diff(grid))])
            n = int(rng.poisson(volume * cdf[-1]))
            if n == 0:
                continue
            masses = np.interp(rng.random(n) * cdf[-1], cdf, grid)
            d1, d2 = np.interp([z1, z2], t["z"], t["comoving"]) ** 3
            zs = np.interp(d1 + rng.random(n) * (d2 - d1), dc3, t["z"])
            z_parts.append(zs)
            m_parts.append(masses)
            q_parts.append(np.full(n, quiescent))
            n_drawn += n

    z = np.concatenate(z_parts) if z_parts else np.zeros(0)
    m = np.concatenate(m_parts) if m_parts else np.zeros(0)
    passive = np.concatenate(q_parts) if q_parts else np.zeros(0, dtype=bool)
    ngal = z.size

    # Bulge-to-total mass ratio (EGG, from Lang et al. 2014).
    log_bt = np.where(passive, 0.1 * (m - 10.0) - 0.3, 0.27 * (m - 10.0) - 0.7)
    bt = np.clip(10.0 ** (log_bt + BT_SCATTER_DEX * rng.standard_normal(ngal)), 0.0, 1.0)

    # Fluxes: bulges are old (quiescent SED); disks follow the galaxy's type.
    ml_scatter = 10.0 ** (-ML_SCATTER_DEX * rng.standard_normal(ngal))
    flux_per_msun_bulge = vis_flux_uJy(0.0, z, True) if ngal else np.zeros(0)
    flux_per_msun_disk = vis_flux_uJy(0.0, z, passive, m) if ngal else np.zeros(0)
    mass_lin = 10.0**m
    flux_bulge = mass_lin * bt * flux_per_msun_bulge * ml_scatter
    flux_disk = mass_lin * (1.0 - bt) * flux_per_msun_disk * ml_scatter
    flux = flux_bulge + flux_disk

    keep = flux >= flim
    z, m, passive, bt = z[keep], m[keep], passive[keep], bt[keep]
    flux, flux_bulge, flux_disk = flux[keep], flux_bulge[keep], flux_disk[keep]
    n = z.size

    # Positions: uniform over the field (no clustering).
    half = math.radians(math.sqrt(config.area_deg2) / 2)
    dec0 = math.radians(config.dec0_deg)
    s1, s2 = math.sin(dec0 - half), math.sin(dec0 + half)
    dec = np.degrees(np.arcsin(s1 + rng.random(n) * (s2 - s1)))
    ra_span = _ra_span_deg(config.area_deg2, config.dec0_deg)
    ra = np.mod(config.ra0_deg + (rng.random(n) - 0.5) * ra_span, 360.0)

    # Morphology (EGG recipes).
    disk_angle = (rng.random(n) - 0.5) * 180.0
    bulge_ratio = _axis_ratios(rng, n, AXIS_RATIO_P_BULGE)
    scale = kpc_per_arcsec(z)
    bulge_radius = (
        bulge_radius_kpc(m, z) * 10.0 ** (BULGE_RADIUS_SCATTER_DEX * rng.standard_normal(n)) / scale
    )
    disk_ratio = _axis_ratios(rng, n, AXIS_RATIO_P_DISK)
    disk_radius = (
        disk_radius_kpc(m, z) * 10.0 ** (DISK_RADIUS_SCATTER_DEX * rng.standard_normal(n)) / scale
    )
    if config.vis_size_correction:
        bulge_radius *= vis_size_factor(m, z, bulge=True)
        disk_radius *= vis_size_factor(m, z, bulge=False)

    # Star formation (EGG recipes).
    log_sfr_ms = main_sequence_log_sfr(m, z)
    a = np.log10(1 + z)
    log_sfr = np.where(passive, np.minimum(log_sfr_ms, 0.5 * (m - 11.0) + a - 0.6), log_sfr_ms)
    log_sfr += np.where(passive, QUIESCENT_SFR_SCATTER_DEX, MS_SCATTER_DEX) * rng.standard_normal(n)
    starburst = (~passive) & (rng.random(n) < STARBURST_FRACTION)
    log_sfr += np.where(starburst, STARBURST_BOOST_DEX, 0.0)

    with np.errstate(divide="ignore"):
        m_bulge = np.where(bt > 0, m + np.log10(np.where(bt > 0, bt, 1.0)), 0.0)
        m_disk = np.where(bt < 1, m + np.log10(np.where(bt < 1, 1.0 - bt, 1.0)), 0.0)

    columns = {
        "ID": np.arange(n, dtype=np.int64),
        "RA": ra,
        "DEC": dec,
        "Z": z,
        "D": luminosity_distance_mpc(z),
        "M": m,
        "M_BULGE": m_bulge,
        "M_DISK": m_disk,
        "SFR": 10.0**log_sfr,
        "PASSIVE": passive,
        "DISK_RADIUS": disk_radius,
        "BULGE_RADIUS": bulge_radius,
        "DISK_RATIO": disk_ratio,
        "BULGE_RATIO": bulge_ratio,
        "DISK_ANGLE": disk_angle,
        "BULGE_ANGLE": disk_angle.copy(),
        "BT": bt,
        "FLUX": flux[:, None],
        "FLUX_BULGE": flux_bulge[:, None],
        "FLUX_DISK": flux_disk[:, None],
    }
    log.info(
        "EGG-recipe catalogue: %d galaxies with VIS < %.2f over %.4g deg^2 "
        "(%d drawn above the mass limits, %.2f s, seed %d)",
        n,
        config.mag_limit_vis,
        config.area_deg2,
        n_drawn,
        time.perf_counter() - t0,
        config.seed,
    )
    return columns


def write_egg_catalogue(config: EggRecipeConfig, path: str | Path, overwrite: bool = False) -> Path:
    """Generate a catalogue and write it in EGG's FITS layout.

    Parameters
    ----------
    config : EggRecipeConfig
        Catalogue parameters.
    path : path-like
        Output FITS file (written atomically).
    overwrite : bool
        Replace an existing file; otherwise an existing file raises
        :class:`FileExistsError`.

    Returns
    -------
    pathlib.Path
        The written file, readable with :func:`data_generation.catalog.read_catalogue`.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists: pass overwrite=True to replace it")
    columns = generate_egg_columns(config)
    return write_egg_fits(
        path, columns, bands=[VIS_BAND], lambda_um=[VIS_LAMBDA_UM], overwrite=overwrite
    )


def area_for_count(
    n_galaxies: int,
    mag_range: tuple[float, float],
    safety: float = 1.25,
    **config_kwargs: Any,
) -> float:
    """Sky area (deg^2) expected to hold at least ``n_galaxies`` in a VIS magnitude range.

    The surface density of galaxies with ``mag_range[0] <= VIS < mag_range[1]`` is
    measured on pilot catalogues drawn with the same configuration (seed included;
    the pilot's magnitude limit is ``mag_range[1]``, its area grown until it holds
    at least 1000 such galaxies or reaches 50 deg^2). The returned area holds
    ``n + 3 sqrt(n)`` galaxies on average (Poisson margin), times ``safety``.

    Parameters
    ----------
    n_galaxies : int
        Number of galaxies wanted (> 0).
    mag_range : tuple of float
        (bright, faint) VIS AB magnitude bounds.
    safety : float
        Extra multiplicative margin on the area (default 1.25).
    **config_kwargs
        Any :class:`EggRecipeConfig` field except ``area_deg2`` (for instance
        ``seed``, ``z_max``); ``mag_limit_vis`` must not be brighter than
        ``mag_range[1]``.

    Returns
    -------
    float
        Area in deg^2.

    Raises
    ------
    ValueError
        Bad arguments, or no galaxy of the model falls in ``mag_range``.
    """
    if n_galaxies <= 0:
        raise ValueError(f"n_galaxies must be > 0, got {n_galaxies}")
    bright, faint = (float(v) for v in mag_range)
    if not bright < faint:
        raise ValueError(f"mag_range must be (bright, faint) with bright < faint, got {mag_range}")
    if "area_deg2" in config_kwargs:
        raise ValueError("area_deg2 is what area_for_count computes: do not pass it")
    mag_limit = float(config_kwargs.pop("mag_limit_vis", faint))
    if mag_limit < faint:
        raise ValueError(
            f"mag_limit_vis = {mag_limit} is brighter than the range's faint end {faint}"
        )
    flim_bright = 10.0 ** (-0.4 * (bright - AB_ZEROPOINT_UJY))
    area = 1e-3
    max_area = 50.0
    while True:
        pilot = EggRecipeConfig(area_deg2=area, mag_limit_vis=faint, **config_kwargs)
        flux = generate_egg_columns(pilot)["FLUX"][:, 0]
        count = int(np.count_nonzero(flux <= flim_bright))
        if count >= 1000 or area >= max_area:
            break
        area = min(max_area, area * min(100.0, 1500.0 / max(count, 1)))
    if count == 0:
        raise ValueError(f"no galaxy with {bright} <= VIS < {faint} in {area} deg^2 of the model")
    density = count / area
    expected = n_galaxies + 3.0 * math.sqrt(n_galaxies)
    result = safety * expected / density
    log.info(
        "%d galaxies with %.2f <= VIS < %.2f: %.4g deg^2 "
        "(density %.4g deg^-2 from %d pilot galaxies)",
        n_galaxies,
        bright,
        faint,
        result,
        density,
        count,
    )
    return float(result)


def composite_half_light_radius(
    disk_radius: np.ndarray, bulge_radius: np.ndarray, bulge_flux_fraction: np.ndarray
) -> np.ndarray:
    """Half-light radius of an exponential disk plus a de Vaucouleurs bulge, same centre.

    Both components are taken as circular with their (major-axis) half-light
    radii; the radius enclosing half the total light is found by bisection on
    ``(1 - f) P(2, b_1 r / R_d) + f P(8, b_4 (r / R_b)^(1/4)) = 1/2``, with ``P`` the
    regularised lower incomplete gamma function (:func:`scipy.special.gammainc`)
    and ``b_n`` solving ``P(2n, b_n) = 1/2``. Vectorised; 60 bisection steps give
    the root to machine precision (same result as :func:`scipy.optimize.brentq`).

    Parameters
    ----------
    disk_radius, bulge_radius : numpy.ndarray
        Half-light radii of the disk and the bulge (any unit, > 0).
    bulge_flux_fraction : numpy.ndarray
        Bulge share of the flux, in [0, 1].

    Returns
    -------
    numpy.ndarray
        Half-light radius of the sum, in the unit of the inputs.
    """
    rd, rb, f = np.broadcast_arrays(
        np.asarray(disk_radius, dtype=np.float64),
        np.asarray(bulge_radius, dtype=np.float64),
        np.clip(np.asarray(bulge_flux_fraction, dtype=np.float64), 0.0, 1.0),
    )
    b1 = gammaincinv(2.0, 0.5)
    b4 = gammaincinv(8.0, 0.5)

    def enclosed(r: np.ndarray) -> np.ndarray:
        return (1 - f) * gammainc(2.0, b1 * r / rd) + f * gammainc(8.0, b4 * (r / rb) ** 0.25)

    lo = np.minimum(rd, rb)
    hi = np.maximum(rd, rb)
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        below = enclosed(mid) < 0.5
        lo = np.where(below, mid, lo)
        hi = np.where(below, hi, mid)
    return 0.5 * (lo + hi)
