"""Read and write galaxy catalogues in the layout of EGG (Schreiber et al. 2017).

``egg-gencat`` writes a FITS binary table with **one row** in which every column
is an array over galaxies (``FLUX`` is ``(ngal, nband)``). This module reads that
layout and the common one-row-per-galaxy table, selects a band **by name** (EGG
sorts bands by wavelength, so positions are meaningless), checks every value the
renderer needs, and returns a :class:`pandas.DataFrame` with unit-bearing column
names:

========================  ========  ==================================================
column                    unit      meaning
========================  ========  ==================================================
``id``                              catalogue ID
``redshift``                        redshift
``flux_uJy``              uJy       total flux in the band (``FLUX``)
``bulge_flux_uJy``        uJy       ``FLUX_BULGE``
``disk_flux_uJy``         uJy       ``FLUX_DISK``
``bt_flux``                         flux bulge fraction ``FLUX_BULGE / FLUX``
``mag_vis``               mag (AB)  ``23.9 - 2.5 log10(flux_uJy)``
``disk_hlr_arcsec``       arcsec    ``DISK_RADIUS``, half-light radius (semi-major axis)
``bulge_hlr_arcsec``      arcsec    ``BULGE_RADIUS``, half-light radius (semi-major axis)
``disk_q``, ``bulge_q``             axis ratios b/a (``DISK_RATIO``, ``BULGE_RATIO``)
``disk_angle_deg``        deg       ``DISK_ANGLE``
``bulge_angle_deg``       deg       ``BULGE_ANGLE``
``ra_deg``, ``dec_deg``   deg       position, when present
``log_mstar``             log Msun  ``M`` (Salpeter IMF), when present
``bt_mass``                         ``BT``, a *mass* ratio, when present
``sfr_msun_per_yr``       Msun/yr   ``SFR``, when present
``passive``                         ``PASSIVE``, when present
========================  ========  ==================================================

Rows that cannot be rendered (non-finite values, non-positive flux, a component
with flux but a non-positive radius, axis ratios outside (0, 1]) are skipped,
counted by reason in a :class:`SkipReport` and logged, never rendered.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from astropy.io import fits

from data_generation.io_utils import atomic_path

log = logging.getLogger(__name__)

#: AB zero point for microJansky: m = 23.9 - 2.5 log10(F / uJy).
AB_ZEROPOINT_UJY = 23.9

DEFAULT_BAND = "euclid-vis"

#: Columns the renderer needs, with the unit EGG writes them in.
REQUIRED_COLUMNS: dict[str, str] = {
    "ID": "",
    "Z": "",
    "DISK_RADIUS": "arcsec",
    "BULGE_RADIUS": "arcsec",
    "DISK_RATIO": "",
    "BULGE_RATIO": "",
    "DISK_ANGLE": "deg",
    "BULGE_ANGLE": "deg",
    "FLUX": "uJy",
    "FLUX_BULGE": "uJy",
    "FLUX_DISK": "uJy",
}

#: Optional per-galaxy columns and the name they get in the returned table.
OPTIONAL_COLUMNS: dict[str, str] = {
    "RA": "ra_deg",
    "DEC": "dec_deg",
    "M": "log_mstar",
    "BT": "bt_mass",
    "SFR": "sfr_msun_per_yr",
    "PASSIVE": "passive",
}

PER_BAND_COLUMNS = ("FLUX", "FLUX_BULGE", "FLUX_DISK")


class CatalogueError(ValueError):
    """A catalogue file that cannot be used, with the reason and the fix."""


@dataclass
class SkipReport:
    """Rows left out of a catalogue and why.

    Attributes
    ----------
    n_read : int
        Rows in the file.
    skipped : collections.Counter
        Number of skipped rows per reason (a row is counted under its first reason).
    """

    n_read: int = 0
    skipped: Counter = field(default_factory=Counter)

    @property
    def n_skipped(self) -> int:
        """Total number of skipped rows."""
        return int(sum(self.skipped.values()))

    @property
    def n_kept(self) -> int:
        """Rows kept for rendering."""
        return self.n_read - self.n_skipped

    def summary(self) -> str:
        """One line for logs and command-line summaries."""
        if not self.skipped:
            return f"{self.n_read} rows read, none skipped"
        reasons = ", ".join(f"{n} {why}" for why, n in sorted(self.skipped.items()))
        return f"{self.n_read} rows read, {self.n_skipped} skipped ({reasons})"


def flux_to_mag(flux_uJy: np.ndarray | float) -> np.ndarray:
    """AB magnitude of a flux in microJansky (``23.9 - 2.5 log10 F``)."""
    return AB_ZEROPOINT_UJY - 2.5 * np.log10(np.asarray(flux_uJy, dtype=np.float64))


def mag_to_flux(mag_ab: np.ndarray | float) -> np.ndarray:
    """Flux in microJansky of an AB magnitude (``10**(-0.4 (m - 23.9))``)."""
    return 10.0 ** (-0.4 * (np.asarray(mag_ab, dtype=np.float64) - AB_ZEROPOINT_UJY))


def write_egg_fits(
    path: str | os.PathLike,
    columns: Mapping[str, np.ndarray],
    bands: Sequence[str],
    lambda_um: Sequence[float],
    overwrite: bool = False,
) -> Path:
    """Write a catalogue in EGG's one-row, column-array FITS layout.

    Parameters
    ----------
    path : path-like
        Output file. Written under a temporary name and renamed when complete.
    columns : mapping of str to numpy.ndarray
        Per-galaxy arrays of length ``ngal`` (``ID``, ``Z``, radii in arcsec,
        angles in degrees, ...) and per-band arrays of shape ``(ngal, nband)``
        (``FLUX``, ``FLUX_BULGE``, ``FLUX_DISK`` in microJansky).
    bands : sequence of str
        Band names, in the order of the per-band arrays' second axis.
    lambda_um : sequence of float
        Effective wavelength of each band in micrometres.
    overwrite : bool
        Replace an existing file. Without it an existing file raises
        :class:`FileExistsError`.

    Returns
    -------
    pathlib.Path
        The written file.

    Notes
    -----
    Like EGG, bands are re-sorted by wavelength before writing, so readers must
    find a band by name.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists: pass overwrite=True to replace it")
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise CatalogueError(f"cannot write an EGG catalogue without columns {missing}")
    bands = [str(b) for b in bands]
    lambda_um = np.asarray(lambda_um, dtype=np.float64)
    if len(bands) != lambda_um.size:
        raise CatalogueError(f"{len(bands)} band names but {lambda_um.size} wavelengths")
    order = np.argsort(lambda_um, kind="stable")
    ngal = len(np.asarray(columns["ID"]))

    fits_columns = []
    for name, values in columns.items():
        values = np.asarray(values)
        if name in PER_BAND_COLUMNS:
            if values.ndim == 1 and len(bands) == 1:
                values = values[:, None]
            if values.shape != (ngal, len(bands)):
                raise CatalogueError(
                    f"column {name} has shape {values.shape}, expected ({ngal}, {len(bands)})"
                )
            values = values[:, order]
        elif values.shape != (ngal,):
            raise CatalogueError(f"column {name} has shape {values.shape}, expected ({ngal},)")
        fits_columns.append(_array_column(name, values))
    band_width = max(len(b) for b in bands)
    fits_columns.append(
        fits.Column(
            name="BANDS",
            format=f"{len(bands) * band_width}A{band_width}",
            dim=f"({band_width},{len(bands)})",
            array=np.array([[bands[i].ljust(band_width) for i in order]]),
        )
    )
    fits_columns.append(_array_column("LAMBDA", lambda_um[order]))
    hdu = fits.BinTableHDU.from_columns(fits_columns)
    hdu.header["EGGLAYOU"] = ("column-array", "one row, every column an array over galaxies")
    with atomic_path(path) as tmp:
        hdu.writeto(tmp)
    return path


def _array_column(name: str, values: np.ndarray) -> fits.Column:
    """A FITS column holding ``values`` as the single cell of a one-row table."""
    if values.dtype == bool:
        code = "L"
    elif np.issubdtype(values.dtype, np.integer):
        code = "K"
        values = values.astype(np.int64)
    else:
        code = "D"
        values = values.astype(np.float64)
    dim = None
    if values.ndim == 2:
        # FITS dims are Fortran-ordered: (nband, ngal) for a C-ordered (ngal, nband) array.
        dim = f"({values.shape[1]},{values.shape[0]})"
    return fits.Column(
        name=name,
        format=f"{values.size}{code}",
        dim=dim,
        unit=REQUIRED_COLUMNS.get(name) or None,
        array=values[None, ...],
    )


def read_catalogue(
    path: str | os.PathLike, band: str = DEFAULT_BAND
) -> tuple[pd.DataFrame, SkipReport]:
    """Read a galaxy catalogue for rendering in one band.

    Parameters
    ----------
    path : path-like
        FITS file: EGG's one-row column-array layout, or a one-row-per-galaxy
        binary table with the same column names. In the latter, per-band
        columns are either 2-D with a ``BANDS`` column or header keyword list,
        or 1-D and then taken to be the requested band.
    band : str
        Band name, matched case-insensitively (default ``"euclid-vis"``).

    Returns
    -------
    table : pandas.DataFrame
        One row per renderable galaxy; columns listed in the module docstring.
    report : SkipReport
        How many rows were read and skipped, by reason.

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    CatalogueError
        A required column is missing (named), the band is absent (the bands
        present are listed), or the file is not a FITS table.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"catalogue {path} does not exist")
    try:
        with fits.open(path, memmap=False) as hdul:
            hdu = next((h for h in hdul if isinstance(h, fits.BinTableHDU)), None)
            if hdu is None:
                raise CatalogueError(f"{path} holds no FITS binary table: not a galaxy catalogue")
            data = hdu.data
            names = [n.upper() for n in data.columns.names]
            raw = {n.upper(): np.array(data[n]) for n in data.columns.names}
    except OSError as err:
        raise CatalogueError(f"{path} is not a readable FITS file ({err})") from err

    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    if missing:
        raise CatalogueError(
            f"{path} lacks required column(s) {', '.join(missing)}; "
            f"columns present: {', '.join(names)}"
        )
    column_array = len(data) == 1 and np.asarray(raw["Z"][0]).ndim >= 1
    if column_array:
        raw = {name: values[0] for name, values in raw.items()}
    band_names = _band_names(raw, hdu.header)
    columns = {name: np.asarray(raw[name]) for name in raw if name not in ("BANDS", "LAMBDA")}
    ngal = columns["Z"].shape[0]
    for name in PER_BAND_COLUMNS:
        values = columns[name]
        if values.ndim == 2:
            if band_names is None:
                raise CatalogueError(
                    f"{path}: column {name} has {values.shape[1]} bands but the file names "
                    "none (no BANDS column): cannot tell which one is the requested band"
                )
            index = _band_index(band_names, band, path)
            columns[name] = values[:, index]
        elif values.ndim == 1:
            if band_names is not None and len(band_names) > 1:
                raise CatalogueError(f"{path}: column {name} is 1-D but BANDS lists several")
            if band_names is not None:
                _band_index(band_names, band, path)
            else:
                log.info("%s: single-band flux columns taken as band %r", path, band)
        else:
            raise CatalogueError(f"{path}: column {name} has unusable shape {values.shape}")

    table = pd.DataFrame(
        {
            "id": columns["ID"].astype(np.int64),
            "redshift": columns["Z"].astype(np.float64),
            "flux_uJy": columns["FLUX"].astype(np.float64),
            "bulge_flux_uJy": columns["FLUX_BULGE"].astype(np.float64),
            "disk_flux_uJy": columns["FLUX_DISK"].astype(np.float64),
            "disk_hlr_arcsec": columns["DISK_RADIUS"].astype(np.float64),
            "bulge_hlr_arcsec": columns["BULGE_RADIUS"].astype(np.float64),
            "disk_q": columns["DISK_RATIO"].astype(np.float64),
            "bulge_q": columns["BULGE_RATIO"].astype(np.float64),
            "disk_angle_deg": columns["DISK_ANGLE"].astype(np.float64),
            "bulge_angle_deg": columns["BULGE_ANGLE"].astype(np.float64),
        }
    )
    for egg_name, our_name in OPTIONAL_COLUMNS.items():
        if egg_name in columns and columns[egg_name].shape == (ngal,):
            values = columns[egg_name]
            table[our_name] = values.astype(values.dtype.newbyteorder("="))

    report = SkipReport(n_read=ngal)
    keep = _renderable(table, report)
    if report.n_skipped:
        log.warning("%s: %s", path, report.summary())
    table = table[keep].reset_index(drop=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        table["bt_flux"] = np.clip(table["bulge_flux_uJy"] / table["flux_uJy"], 0.0, 1.0)
    table["mag_vis"] = flux_to_mag(table["flux_uJy"].to_numpy())
    return table, report


def _band_names(raw: dict[str, np.ndarray], header: fits.Header) -> list[str] | None:
    if "BANDS" in raw:
        values = np.asarray(raw["BANDS"]).ravel()
        # one-row-per-galaxy tables repeat the band list in every row
        names = [v.decode() if isinstance(v, bytes) else str(v) for v in values]
        names = [n.strip() for n in names]
        n_band = raw["FLUX"].shape[-1] if raw["FLUX"].ndim == 2 else 1
        return names[:n_band]
    if "BANDS" in header:
        return [b.strip() for b in str(header["BANDS"]).split(",")]
    return None


def _band_index(band_names: list[str], band: str, path: Path) -> int:
    lowered = [b.lower() for b in band_names]
    if band.lower() not in lowered:
        raise CatalogueError(
            f"{path}: band {band!r} is not in the catalogue; bands present: "
            f"{', '.join(band_names)}. Choose one of them (option --band)."
        )
    return lowered.index(band.lower())


def _renderable(table: pd.DataFrame, report: SkipReport) -> np.ndarray:
    """Boolean mask of rows that can be rendered; counts the others by reason."""
    keep = np.ones(len(table), dtype=bool)

    def reject(mask: np.ndarray, reason: str) -> None:
        new = mask & keep
        if new.any():
            report.skipped[reason] += int(new.sum())
            keep[new] = False

    numeric = table.to_numpy(dtype=np.float64)
    reject(~np.isfinite(numeric).all(axis=1), "with NaN or infinite values")
    reject(table["flux_uJy"].to_numpy() <= 0, "with non-positive flux")
    reject(
        (table["bulge_flux_uJy"].to_numpy() < 0) | (table["disk_flux_uJy"].to_numpy() < 0),
        "with a negative component flux",
    )
    reject(
        ((table["disk_flux_uJy"] > 0) & (table["disk_hlr_arcsec"] <= 0)).to_numpy()
        | ((table["bulge_flux_uJy"] > 0) & (table["bulge_hlr_arcsec"] <= 0)).to_numpy(),
        "with non-positive size",
    )
    q = table[["disk_q", "bulge_q"]].to_numpy()
    reject(((q <= 0) | (q > 1)).any(axis=1), "with an axis ratio outside (0, 1]")
    return keep
