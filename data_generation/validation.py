"""Validation of the built-in EGG-recipe catalogues against published measurements.

The catalogues of :mod:`data_generation.egg_recipes` are compared with:

* the differential galaxy number counts in the i band of COSMOS2020 (Weaver et
  al. 2022), :func:`number_counts_table`;
* the cumulative surface density of galaxies with i < 25 of the LSST Science
  Book (LSST Science Collaboration 2009), :func:`cumulative_density_check`;
* the median half-light radius of disc-dominated galaxies against F814W
  magnitude of Miller et al. (2013), :func:`size_table` and its slope,
  :func:`size_slope_check`.

Our VIS magnitudes are compared directly with the published i / F814W ones (the
VIS - i colour of faint galaxies is within ~0.1 mag; see
:data:`COSMOS2020_I_COUNTS`). Two catalogues are drawn (:class:`ValidationConfig`):
a wide, shallow one for the bright bins and a small, deep one for the faint
bins. Each public function draws them again from their configuration (seeded:
the same configuration gives the same numbers); :func:`run_validation` draws
them once for every comparison, and :func:`validation_report` formats the
result as Markdown, as printed by ``debvader-euclid validate-catalogue``.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd
from scipy.special import gammaincinv

from data_generation import egg_recipes
from data_generation.catalog import AB_ZEROPOINT_UJY
from data_generation.egg_recipes import EggRecipeConfig

log = logging.getLogger(__name__)

# ---------------------------------------------------------------------------
# Published measurements and tolerances
# ---------------------------------------------------------------------------

#: COSMOS2020 differential galaxy counts in the HSC i band, "The Farmer" catalogue:
#: Weaver et al. (2022, ApJS 258, 11), Table 2, log10(N / mag / deg^2) at the
#: centres of 0.5-mag bins (values as transcribed in public code). HSC i
#: (0.77 um) is the closest published deep wide-field count band to VIS (0.75 um,
#: 0.55-0.90 um); for the colours of faint galaxies VIS - i is within ~0.1 mag,
#: i.e. ~0.03 dex in counts at the observed slope of ~0.3 dex/mag.
COSMOS2020_I_COUNTS = {
    20.25: 3.44,
    21.25: 3.85,
    22.25: 4.21,
    23.25: 4.54,
    24.25: 4.86,
    25.25: 5.08,
    26.25: 5.29,
}

#: Width of the COSMOS2020 count bins, mag.
COUNTS_BIN_WIDTH_MAG = 0.5

#: Tolerance on the counts, dex (factor 1.41). It covers the VIS-i colour term
#: (~0.03 dex), COSMOS cosmic variance on 2 deg^2 (a few %), the Poisson noise of
#: our test catalogues (<= 0.04 dex) and the approximate flux model.
COUNTS_TOLERANCE_DEX = 0.15

#: LSST Science Book v2.0 (LSST Science Collaboration 2009, arXiv:0912.0201),
#: Sect. 3.7.2, eq. (3.7): N(< i) = 46 x 10^(0.31 (i - 25)) galaxies per arcmin^2,
#: i.e. 46 arcmin^-2 to i = 25 (from deep CFHTLS counts).
LSST_N_I25_PER_ARCMIN2 = 46.0
LSST_TOLERANCE_DEX = 0.1

#: Magnitude limit of the LSST Science Book cumulative density, AB mag.
LSST_MAG_LIMIT = 25.0

#: Miller et al. (2013, MNRAS 429, 2858; CFHTLenS lensfit), size prior: the
#: median major-axis exponential scalelength of disc-dominated galaxies against
#: HST F814W magnitude, fitted to the Groth Strip bulge+disc decompositions of
#: Simard et al. (2002): r_d = exp(-1.145 - 0.269 (i_814 - 23)) arcsec. The
#: half-light radius of an exponential disc is b_1 = 1.678 scalelengths.
MILLER_LN_RD = (-1.145, -0.269, 23.0)

#: Tolerance on the median half-light radius, dex (factor 1.58). Size
#: definitions differ by 0.1 dex between fitting methods (GIM2D bulge+disc here,
#: GALFIT single Sersic for EGG's CANDELS calibration), and EGG's disk sizes
#: themselves lie ~0.1 dex below van der Wel et al. (2014) at z < 1.
SIZE_TOLERANCE_DEX = 0.2

#: Centres of the 1-mag bins of the size comparison, AB mag.
SIZE_BIN_CENTRES = (20.5, 21.5, 22.5, 23.5, 24.5)

#: Width of the size bins, mag.
SIZE_BIN_WIDTH_MAG = 1.0

#: Galaxies are "disc-dominated" below this bulge share of the VIS flux.
DISC_DOMINATED_MAX_BULGE_FRACTION = 0.5

#: Tolerance on the slope of log10(median half-light radius) against magnitude,
#: dex/mag, around the Miller et al. (2013) value of -0.269 / ln 10 = -0.117.
SIZE_SLOPE_TOLERANCE_DEX_PER_MAG = 0.04

#: Fewest galaxies per bin for a meaningful comparison (Poisson noise of a
#: count <= 0.025 dex; standard error of a median size ~0.02 dex).
MIN_GALAXIES_PER_BIN = 300


def miller_half_light_radius(mag: float) -> float:
    """Median half-light radius of disc-dominated galaxies, Miller et al. (2013).

    Parameters
    ----------
    mag : float
        HST F814W AB magnitude.

    Returns
    -------
    float
        Half-light radius in arcsec: ``b_1`` (= 1.678) times the median
        exponential scalelength of :data:`MILLER_LN_RD`.
    """
    a, b, m0 = MILLER_LN_RD
    return float(gammaincinv(2.0, 0.5) * math.exp(a + b * (mag - m0)))


def miller_size_slope_dex_per_mag() -> float:
    """Slope of log10(half-light radius) against magnitude of Miller et al. (2013), dex/mag."""
    return MILLER_LN_RD[1] / math.log(10.0)


# ---------------------------------------------------------------------------
# Catalogues compared
# ---------------------------------------------------------------------------


#: Area (deg^2) and VIS magnitude limit of the default bright and deep catalogues.
_BRIGHT = {"area_deg2": 0.5, "mag_limit_vis": 23.0}
_DEEP = {"area_deg2": 0.05, "mag_limit_vis": 26.5}


@dataclass(frozen=True)
class ValidationConfig:
    """The two catalogues compared with the published measurements.

    Attributes
    ----------
    bright : EggRecipeConfig
        Wide, shallow catalogue for the bright bins (default: 0.5 deg^2 to
        VIS 23, enough galaxies for 20 < VIS < 23). A bin goes to this
        catalogue when its faint edge is not fainter than its magnitude limit.
    deep : EggRecipeConfig
        Small, deep catalogue for the other bins (default: 0.05 deg^2 to
        VIS 26.5). Its magnitude limit must reach the faintest bin edge.
    """

    bright: EggRecipeConfig = field(default_factory=lambda: EggRecipeConfig(**_BRIGHT))
    deep: EggRecipeConfig = field(default_factory=lambda: EggRecipeConfig(**_DEEP))

    @classmethod
    def default(cls, seed: int = 42) -> ValidationConfig:
        """The default catalogues, both drawn with ``seed``.

        Parameters
        ----------
        seed : int
            Seed of both catalogues (default 42, EGG's default).
        """
        return cls(
            bright=EggRecipeConfig(**_BRIGHT, seed=seed), deep=EggRecipeConfig(**_DEEP, seed=seed)
        )


@dataclass
class _Catalogue:
    """One drawn catalogue: its configuration and EGG columns."""

    config: EggRecipeConfig
    columns: dict[str, np.ndarray]

    @cached_property
    def mag(self) -> np.ndarray:
        """VIS AB magnitudes."""
        return vis_magnitude(self.columns)


def vis_magnitude(columns: dict[str, np.ndarray]) -> np.ndarray:
    """VIS AB magnitudes of a catalogue.

    Parameters
    ----------
    columns : dict of str to numpy.ndarray
        EGG columns (:func:`data_generation.egg_recipes.generate_egg_columns`);
        ``FLUX`` in uJy, shape ``(ngal, 1)``.

    Returns
    -------
    numpy.ndarray
        AB magnitudes, shape ``(ngal,)``.
    """
    return AB_ZEROPOINT_UJY - 2.5 * np.log10(columns["FLUX"][:, 0])


def _draw(config: ValidationConfig | None) -> tuple[_Catalogue, _Catalogue]:
    config = config or ValidationConfig()
    return (
        _Catalogue(config.bright, egg_recipes.generate_egg_columns(config.bright)),
        _Catalogue(config.deep, egg_recipes.generate_egg_columns(config.deep)),
    )


def _pick(bright: _Catalogue, deep: _Catalogue, faint_edge: float) -> _Catalogue:
    """The catalogue for a bin: the bright one if it is complete to ``faint_edge``."""
    if faint_edge <= bright.config.mag_limit_vis:
        return bright
    if faint_edge > deep.config.mag_limit_vis:
        raise ValueError(
            f"the deep catalogue stops at VIS {deep.config.mag_limit_vis}: it must reach "
            f"{faint_edge} for this comparison"
        )
    return deep


# ---------------------------------------------------------------------------
# Comparisons
# ---------------------------------------------------------------------------


def _counts(bright: _Catalogue, deep: _Catalogue) -> pd.DataFrame:
    rows = []
    half = COUNTS_BIN_WIDTH_MAG / 2
    for centre, published in COSMOS2020_I_COUNTS.items():
        cat = _pick(bright, deep, centre + half)
        mag = cat.mag
        n = int(np.count_nonzero((mag >= centre - half) & (mag < centre + half)))
        ours = math.log10(n / cat.config.area_deg2 / COUNTS_BIN_WIDTH_MAG) if n else -math.inf
        difference = ours - published
        rows.append(
            {
                "mag_bin_centre": centre,
                "ours_log_n_per_mag_deg2": ours,
                "published_log_n": published,
                "difference_dex": difference,
                "tolerance_dex": COUNTS_TOLERANCE_DEX,
                "within_tolerance": bool(abs(difference) < COUNTS_TOLERANCE_DEX),
                "n_galaxies": n,
            }
        )
    return pd.DataFrame(rows)


def _cumulative(deep: _Catalogue) -> pd.DataFrame:
    if deep.config.mag_limit_vis < LSST_MAG_LIMIT:
        raise ValueError(
            f"the deep catalogue stops at VIS {deep.config.mag_limit_vis}: it must reach "
            f"{LSST_MAG_LIMIT} for the cumulative density"
        )
    n = int(np.count_nonzero(deep.mag < LSST_MAG_LIMIT))
    ours = n / (deep.config.area_deg2 * 3600.0)
    difference = math.log10(ours / LSST_N_I25_PER_ARCMIN2) if n else -math.inf
    return pd.DataFrame(
        [
            {
                "mag_limit": LSST_MAG_LIMIT,
                "ours_n_per_arcmin2": ours,
                "published_n_per_arcmin2": LSST_N_I25_PER_ARCMIN2,
                "difference_dex": difference,
                "tolerance_dex": LSST_TOLERANCE_DEX,
                "within_tolerance": bool(abs(difference) < LSST_TOLERANCE_DEX),
                "n_galaxies": n,
            }
        ]
    )


def _sizes(bright: _Catalogue, deep: _Catalogue) -> pd.DataFrame:
    rows = []
    half = SIZE_BIN_WIDTH_MAG / 2
    for centre in SIZE_BIN_CENTRES:
        cat = _pick(bright, deep, centre + half)
        c = cat.columns
        mag = cat.mag
        bulge_fraction = c["FLUX_BULGE"][:, 0] / c["FLUX"][:, 0]
        sel = (
            (mag >= centre - half)
            & (mag < centre + half)
            & (bulge_fraction < DISC_DOMINATED_MAX_BULGE_FRACTION)
        )
        n = int(np.count_nonzero(sel))
        if n:
            radius = egg_recipes.composite_half_light_radius(
                c["DISK_RADIUS"][sel], c["BULGE_RADIUS"][sel], bulge_fraction[sel]
            )
            ours = float(np.median(radius))
        else:
            ours = math.nan
        published = miller_half_light_radius(centre)
        difference = math.log10(ours / published)
        rows.append(
            {
                "mag_bin_centre": centre,
                "ours_median_hlr_arcsec": ours,
                "miller2013_hlr_arcsec": published,
                "difference_dex": difference,
                "tolerance_dex": SIZE_TOLERANCE_DEX,
                "within_tolerance": bool(abs(difference) < SIZE_TOLERANCE_DEX),
                "n_galaxies": n,
            }
        )
    return pd.DataFrame(rows)


def _slope(sizes: pd.DataFrame) -> pd.DataFrame:
    x = sizes["mag_bin_centre"].to_numpy(dtype=float)
    y = np.log10(sizes["ours_median_hlr_arcsec"].to_numpy(dtype=float))
    ours = float(np.polyfit(x, y, 1)[0]) if np.all(np.isfinite(y)) else math.nan
    published = miller_size_slope_dex_per_mag()
    difference = ours - published
    return pd.DataFrame(
        [
            {
                "ours_dex_per_mag": ours,
                "miller2013_dex_per_mag": published,
                "difference_dex_per_mag": difference,
                "tolerance_dex_per_mag": SIZE_SLOPE_TOLERANCE_DEX_PER_MAG,
                "within_tolerance": bool(abs(difference) <= SIZE_SLOPE_TOLERANCE_DEX_PER_MAG),
            }
        ]
    )


def number_counts_table(config: ValidationConfig | None = None) -> pd.DataFrame:
    """Our VIS differential number counts against COSMOS2020 i-band counts.

    Parameters
    ----------
    config : ValidationConfig, optional
        Catalogues to draw (default: :class:`ValidationConfig` defaults, seed 42).

    Returns
    -------
    pandas.DataFrame
        One row per 0.5-mag bin of :data:`COSMOS2020_I_COUNTS`, columns
        ``mag_bin_centre`` (AB mag); ``ours_log_n_per_mag_deg2`` and
        ``published_log_n`` (log10 of galaxies per mag per deg^2; Weaver et al.
        2022); ``difference_dex`` (ours - published); ``tolerance_dex``;
        ``within_tolerance`` (``|difference| < tolerance``); ``n_galaxies`` (our
        galaxies in the bin, to judge its Poisson noise; at least
        :data:`MIN_GALAXIES_PER_BIN` for a meaningful comparison).

    Raises
    ------
    ValueError
        The deep catalogue does not reach the faintest bin.
    """
    return _counts(*_draw(config))


def cumulative_density_check(config: ValidationConfig | None = None) -> pd.DataFrame:
    """Our surface density of galaxies with VIS < 25 against the LSST Science Book.

    Parameters
    ----------
    config : ValidationConfig, optional
        Catalogues to draw (default: :class:`ValidationConfig` defaults, seed 42);
        the deep one is used.

    Returns
    -------
    pandas.DataFrame
        One row, columns ``mag_limit`` (AB mag, 25); ``ours_n_per_arcmin2`` and
        ``published_n_per_arcmin2`` (galaxies per arcmin^2 brighter than the
        limit; LSST Science Collaboration 2009, eq. 3.7); ``difference_dex``
        (log10 of ours / published); ``tolerance_dex``; ``within_tolerance``
        (``|difference| < tolerance``); ``n_galaxies`` (our galaxies counted).

    Raises
    ------
    ValueError
        The deep catalogue stops brighter than VIS 25.
    """
    _, deep = _draw(config)
    return _cumulative(deep)


def size_table(config: ValidationConfig | None = None) -> pd.DataFrame:
    """Our median half-light radius of disc-dominated galaxies against Miller et al. (2013).

    The half-light radius of each galaxy is that of the sum of its exponential
    disk and de Vaucouleurs bulge (circular, same centre;
    :func:`data_generation.egg_recipes.composite_half_light_radius`);
    disc-dominated means a bulge share of the VIS flux below
    :data:`DISC_DOMINATED_MAX_BULGE_FRACTION`.

    Parameters
    ----------
    config : ValidationConfig, optional
        Catalogues to draw (default: :class:`ValidationConfig` defaults, seed 42).

    Returns
    -------
    pandas.DataFrame
        One row per 1-mag bin of :data:`SIZE_BIN_CENTRES`, columns
        ``mag_bin_centre`` (AB mag); ``ours_median_hlr_arcsec`` and
        ``miller2013_hlr_arcsec`` (median half-light radius, arcsec);
        ``difference_dex`` (log10 of ours / published); ``tolerance_dex``;
        ``within_tolerance`` (``|difference| < tolerance``); ``n_galaxies``
        (our disc-dominated galaxies in the bin).

    Raises
    ------
    ValueError
        The deep catalogue does not reach the faintest bin.
    """
    return _sizes(*_draw(config))


def size_slope_check(config: ValidationConfig | None = None) -> pd.DataFrame:
    """Slope of our median size-magnitude relation against Miller et al. (2013).

    Parameters
    ----------
    config : ValidationConfig, optional
        Catalogues to draw (default: :class:`ValidationConfig` defaults, seed 42).

    Returns
    -------
    pandas.DataFrame
        One row, columns ``ours_dex_per_mag`` (least-squares slope of log10 of
        the medians of :func:`size_table` against bin centre, dex/mag);
        ``miller2013_dex_per_mag`` (-0.117); ``difference_dex_per_mag``;
        ``tolerance_dex_per_mag``; ``within_tolerance``
        (``|difference| <= tolerance``).
    """
    return _slope(size_table(config))


# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------


@dataclass
class ValidationResult:
    """Every comparison of one pair of catalogues.

    Attributes
    ----------
    config : ValidationConfig
        The catalogues drawn.
    n_galaxies : dict of str to int
        Galaxies in the ``"bright"`` and ``"deep"`` catalogues.
    counts, cumulative, sizes, size_slope : pandas.DataFrame
        Outputs of :func:`number_counts_table`, :func:`cumulative_density_check`,
        :func:`size_table` and :func:`size_slope_check`.
    """

    config: ValidationConfig
    n_galaxies: dict[str, int]
    counts: pd.DataFrame
    cumulative: pd.DataFrame
    sizes: pd.DataFrame
    size_slope: pd.DataFrame

    def checks(self) -> list[tuple[str, bool, str]]:
        """The pass/fail checks: (name, passed, detail), one per comparison.

        A comparison by magnitude bin passes when every bin is within tolerance
        and holds at least :data:`MIN_GALAXIES_PER_BIN` galaxies.
        """

        def binned(name: str, table: pd.DataFrame) -> tuple[str, bool, str]:
            within = int(table["within_tolerance"].sum())
            sparse = table.loc[table["n_galaxies"] < MIN_GALAXIES_PER_BIN, "mag_bin_centre"]
            detail = f"{within}/{len(table)} bins within {table['tolerance_dex'].iloc[0]} dex"
            if len(sparse):
                detail += f"; fewer than {MIN_GALAXIES_PER_BIN} galaxies at VIS " + ", ".join(
                    f"{m:g}" for m in sparse
                )
            return name, within == len(table) and not len(sparse), detail

        out = [binned("number counts vs COSMOS2020 (Weaver et al. 2022)", self.counts)]
        row = self.cumulative.iloc[0]
        out.append(
            (
                "N(VIS < 25) vs LSST Science Book",
                bool(row["within_tolerance"]),
                f"{row['ours_n_per_arcmin2']:.1f} vs {row['published_n_per_arcmin2']:.0f} "
                f"arcmin^-2, {row['difference_dex']:+.3f} dex (tolerance {row['tolerance_dex']})",
            )
        )
        out.append(binned("median half-light radius vs Miller et al. (2013)", self.sizes))
        row = self.size_slope.iloc[0]
        out.append(
            (
                "size-magnitude slope vs Miller et al. (2013)",
                bool(row["within_tolerance"]),
                f"{row['ours_dex_per_mag']:+.3f} vs {row['miller2013_dex_per_mag']:+.3f} "
                f"dex/mag (tolerance {row['tolerance_dex_per_mag']})",
            )
        )
        return out

    @property
    def passed(self) -> bool:
        """True when every check passes."""
        return all(ok for _, ok, _ in self.checks())

    def to_markdown(self) -> str:
        """The comparison tables and one PASS/FAIL line per check, as Markdown."""
        b, d = self.config.bright, self.config.deep
        lines = [
            "# EGG-recipe catalogue validation",
            "",
            f"Catalogues (seed {b.seed}"
            + (f" / {d.seed}" if d.seed != b.seed else "")
            + f"): bright {b.area_deg2:g} deg^2 to VIS {b.mag_limit_vis:g} "
            f"({self.n_galaxies['bright']} galaxies), deep {d.area_deg2:g} deg^2 to "
            f"VIS {d.mag_limit_vis:g} ({self.n_galaxies['deep']} galaxies). A bin uses "
            "the bright catalogue when its faint edge is within its limit. Our VIS "
            "magnitudes are compared with the published i / F814W magnitudes.",
            "",
            "## Differential number counts vs COSMOS2020 i band",
            "",
            "Weaver et al. (2022, ApJS 258, 11), Table 2; log10(N / mag / deg^2) in 0.5-mag bins.",
            "",
            _markdown_table(
                self.counts,
                {
                    "mag_bin_centre": "{:.2f}",
                    "ours_log_n_per_mag_deg2": "{:.3f}",
                    "published_log_n": "{:.2f}",
                    "difference_dex": "{:+.3f}",
                    "tolerance_dex": "{:.2f}",
                },
            ),
            "",
            "## Cumulative surface density vs LSST Science Book",
            "",
            "LSST Science Collaboration (2009, arXiv:0912.0201), eq. (3.7); galaxies "
            "per arcmin^2 brighter than the limit.",
            "",
            _markdown_table(
                self.cumulative,
                {
                    "mag_limit": "{:.1f}",
                    "ours_n_per_arcmin2": "{:.1f}",
                    "published_n_per_arcmin2": "{:.1f}",
                    "difference_dex": "{:+.3f}",
                    "tolerance_dex": "{:.2f}",
                },
            ),
            "",
            "## Median half-light radius vs Miller et al. (2013)",
            "",
            "Disc-dominated galaxies (bulge flux share < 0.5), 1-mag bins; Miller et "
            "al. (2013, MNRAS 429, 2858) median exponential scalelength x 1.678; arcsec.",
            "",
            _markdown_table(
                self.sizes,
                {
                    "mag_bin_centre": "{:.1f}",
                    "ours_median_hlr_arcsec": "{:.3f}",
                    "miller2013_hlr_arcsec": "{:.3f}",
                    "difference_dex": "{:+.3f}",
                    "tolerance_dex": "{:.2f}",
                },
            ),
            "",
            "Slope of log10(median half-light radius) against magnitude, dex/mag:",
            "",
            _markdown_table(
                self.size_slope,
                {
                    "ours_dex_per_mag": "{:+.3f}",
                    "miller2013_dex_per_mag": "{:+.3f}",
                    "difference_dex_per_mag": "{:+.3f}",
                    "tolerance_dex_per_mag": "{:.2f}",
                },
            ),
            "",
            "## Checks",
            "",
        ]
        lines += [
            f"- {'PASS' if ok else 'FAIL'}: {name}: {detail}" for name, ok, detail in self.checks()
        ]
        return "\n".join(lines) + "\n"


def _markdown_table(table: pd.DataFrame, formats: dict[str, str]) -> str:
    """A pipe table; numbers formatted by ``formats``, booleans as yes/no."""

    def cell(column: str, value: object) -> str:
        if isinstance(value, bool | np.bool_):
            return "yes" if value else "no"
        if column in formats:
            text = formats[column].format(value)
            # no "-0.000": a value that rounds to zero is printed as zero
            return formats[column].format(0.0) if float(text) == 0 else text
        return str(value)

    header = "| " + " | ".join(table.columns) + " |"
    rule = "|" + "|".join("---:" for _ in table.columns) + "|"
    body = [
        "| " + " | ".join(cell(col, table[col].iloc[i]) for col in table.columns) + " |"
        for i in range(len(table))
    ]
    return "\n".join([header, rule, *body])


def run_validation(seed: int = 42, config: ValidationConfig | None = None) -> ValidationResult:
    """Draw the catalogues once and run every comparison.

    Parameters
    ----------
    seed : int
        Seed of both default catalogues (default 42); ignored when ``config``
        is given.
    config : ValidationConfig, optional
        Catalogues to draw (default: :meth:`ValidationConfig.default` with ``seed``).

    Returns
    -------
    ValidationResult
    """
    config = config or ValidationConfig.default(seed)
    bright, deep = _draw(config)
    sizes = _sizes(bright, deep)
    result = ValidationResult(
        config=config,
        n_galaxies={"bright": int(bright.mag.size), "deep": int(deep.mag.size)},
        counts=_counts(bright, deep),
        cumulative=_cumulative(deep),
        sizes=sizes,
        size_slope=_slope(sizes),
    )
    checks = result.checks()
    for name, ok, detail in checks:
        (log.debug if ok else log.warning)("%s %s: %s", "PASS" if ok else "FAIL", name, detail)
    log.info(
        "catalogue validation, seed %d: %d of %d checks pass",
        config.bright.seed,
        sum(ok for _, ok, _ in checks),
        len(checks),
    )
    return result


def validation_report(seed: int = 42) -> str:
    """Markdown report of every comparison, with one PASS/FAIL line per check.

    Parameters
    ----------
    seed : int
        Seed of both catalogues (default 42).

    Returns
    -------
    str
        Markdown: the tables of :func:`number_counts_table`,
        :func:`cumulative_density_check`, :func:`size_table` and
        :func:`size_slope_check`, then the checks.
    """
    return run_validation(seed).to_markdown()
