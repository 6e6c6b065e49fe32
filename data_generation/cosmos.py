"""Read the HST COSMOS real-galaxy sample (GalSim's RealGalaxyCatalog format) as a galaxy table.

The sample that ``galsim_download_cosmos`` installs (F814W < 25.2, Mandelbaum et al.
2012, 2014) is a folder holding

``real_galaxy_catalog_25.2.fits``
    The RealGalaxyCatalog: one row per galaxy, with the columns GalSim reads
    (:data:`REAL_GALAXY_COLUMNS`: identifier, image and PSF file names and HDUs,
    pixel scale, noise variance, F814W magnitude).
``real_galaxy_images_25.2_nNN.fits``, ``real_galaxy_PSF_images_25.2_nNN.fits``
    Galaxy and HST PSF postage stamps, one HDU each.
``real_galaxy_catalog_25.2_fits.fits`` (optional)
    Parametric fits, row for row (:data:`FIT_COLUMNS`).

:func:`read_cosmos_catalogue` turns it into a table with the columns of
:mod:`data_generation.catalog`, so that the generation pipeline selects central
galaxies and neighbours by magnitude exactly as for an EGG catalogue, plus
``cosmos_index`` (the row of the RealGalaxyCatalog that
:class:`~data_generation.morphology.CosmosMorphology` draws).

Truth values (what a data set stores for each galaxy):

* ``id``: ``IDENT``; ``mag_vis``: ``MAG`` (F814W, taken as VIS: the two bands
  overlap, and colour terms are ignored); ``flux_uJy``: ``10**(-0.4 (MAG - 23.9))``,
  exactly the flux the galaxy is drawn with.
* from the parametric fits, when the ``_fits`` file is there: ``redshift``
  (``ZPHOT``); for galaxies fitted with bulge + disk (``USE_BULGEFIT``), ``bt_flux``,
  radii, axis ratios and the disk position angle from ``BULGEFIT`` and ``HLR``,
  ``FLUX``; for single-Sersic galaxies the Sersic radius, axis ratio and angle go in
  the ``disk_*`` fields and ``bt_flux`` and the ``bulge_*`` fields are NaN. GalSim's
  ``HLR`` is circularised (it shears afterwards); the tables hold the semi-major
  axis ``HLR / sqrt(q)``, as for EGG.
* everything without a COSMOS equivalent is NaN: all of the above but ``id``,
  ``mag_vis`` and ``flux_uJy`` when there is no ``_fits`` file.

The position angle stored with a drawn galaxy includes its random rotation.
"""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
from astropy.io import fits

from data_generation.catalog import CatalogueError, SkipReport, mag_to_flux
from data_generation.io_utils import sha256_file

log = logging.getLogger(__name__)

#: Columns of a RealGalaxyCatalog that GalSim's ``RealGalaxy`` reads (case-insensitive).
REAL_GALAXY_COLUMNS = (
    "IDENT",
    "GAL_FILENAME",
    "PSF_FILENAME",
    "GAL_HDU",
    "PSF_HDU",
    "PIXEL_SCALE",
    "NOISE_VARIANCE",
    "MAG",
)

#: Columns of the parametric-fit file used for the truth (all needed, else it is ignored).
FIT_COLUMNS = ("IDENT", "ZPHOT", "USE_BULGEFIT", "BULGEFIT", "SERSICFIT", "HLR", "FLUX")

_DOWNLOAD_HINT = (
    "download the HST COSMOS sample with GalSim's `galsim_download_cosmos` and pass its "
    "real_galaxy_catalog_25.2.fits"
)


def fits_file_for(catalogue: str | os.PathLike) -> Path:
    """The parametric-fit file GalSim expects next to a catalogue (``*_fits.fits``)."""
    catalogue = Path(catalogue)
    stem = catalogue.name[:-5] if catalogue.name.endswith(".fits") else catalogue.name
    return catalogue.with_name(f"{stem}_fits.fits")


def _read_fits_table(path: Path) -> fits.FITS_rec:
    try:
        with fits.open(path, memmap=False) as hdul:
            if len(hdul) < 2 or not isinstance(hdul[1], fits.BinTableHDU):
                raise CatalogueError(f"{path} holds no FITS binary table in HDU 1")
            return hdul[1].data.copy()
    except OSError as err:
        raise CatalogueError(f"{path} is not a readable FITS file ({err})") from err


def _column(table: fits.FITS_rec, name: str) -> np.ndarray:
    """A column by case-insensitive name, native byte order."""
    actual = {n.upper(): n for n in table.columns.names}[name.upper()]
    values = np.asarray(table[actual])
    if values.dtype.kind in "iuf" and not values.dtype.isnative:
        values = values.astype(values.dtype.newbyteorder("="))
    return values


def _strings(values: np.ndarray) -> list[str]:
    return [(v.decode() if isinstance(v, bytes) else str(v)).strip() for v in values]


def check_catalogue(catalogue: str | os.PathLike) -> tuple[fits.FITS_rec, dict[str, list[Path]]]:
    """Check a RealGalaxyCatalog file and the files it names.

    Parameters
    ----------
    catalogue : path-like
        RealGalaxyCatalog FITS file; image, PSF and noise files are looked up in
        its folder, as GalSim does.

    Returns
    -------
    table : astropy.io.fits.FITS_rec
        The catalogue rows.
    files : dict
        Referenced files by role (``"images"``, ``"psf"``, ``"noise"``), each a
        sorted list of unique paths.

    Raises
    ------
    FileNotFoundError
        The catalogue or a file it names does not exist (listed).
    CatalogueError
        Not a FITS table, or a required column is missing (named).
    """
    path = Path(catalogue)
    if not path.is_file():
        raise FileNotFoundError(f"COSMOS catalogue {path} does not exist: {_DOWNLOAD_HINT}")
    table = _read_fits_table(path)
    names = {n.upper() for n in table.columns.names}
    missing = [c for c in REAL_GALAXY_COLUMNS if c not in names]
    if missing:
        raise CatalogueError(
            f"{path} is not a GalSim RealGalaxyCatalog: it lacks column(s) "
            f"{', '.join(missing)} (columns present: {', '.join(sorted(names))}); {_DOWNLOAD_HINT}"
        )
    if len(table) == 0:
        raise CatalogueError(f"{path} holds no galaxy")
    folder = path.parent
    roles = {"images": "GAL_FILENAME", "psf": "PSF_FILENAME"}
    if "NOISE_FILENAME" in names:
        roles["noise"] = "NOISE_FILENAME"
    files = {
        role: sorted({folder / name for name in _strings(_column(table, column))})
        for role, column in roles.items()
    }
    absent = [str(p) for paths in files.values() for p in paths if not p.is_file()]
    if absent:
        shown = ", ".join(absent[:5]) + (f" and {len(absent) - 5} more" if len(absent) > 5 else "")
        raise FileNotFoundError(
            f"COSMOS catalogue {path} names files that are missing: {shown}. The images must "
            f"lie next to the catalogue; {_DOWNLOAD_HINT}"
        )
    return table, files


def open_real_galaxy_catalogue(catalogue: str | os.PathLike):
    """The ``galsim.RealGalaxyCatalog`` of a checked catalogue file (see :func:`check_catalogue`).

    Returns
    -------
    galsim.RealGalaxyCatalog
    """
    import galsim

    check_catalogue(catalogue)
    return galsim.RealGalaxyCatalog(str(Path(catalogue).resolve()))


def read_cosmos_catalogue(catalogue: str | os.PathLike) -> tuple[pd.DataFrame, SkipReport]:
    """The COSMOS sample as a galaxy table for the generation pipeline.

    Parameters
    ----------
    catalogue : path-like
        RealGalaxyCatalog FITS file.

    Returns
    -------
    table : pandas.DataFrame
        One row per usable galaxy: ``cosmos_index`` (row in the RealGalaxyCatalog)
        and the columns of :mod:`data_generation.catalog` (``id``, ``redshift``,
        ``flux_uJy`` (uJy), ``mag_vis`` (AB), ``bt_flux``, ``bulge_flux_uJy``,
        ``disk_flux_uJy`` (uJy), ``disk_hlr_arcsec``, ``bulge_hlr_arcsec`` (arcsec,
        semi-major axis), ``disk_q``, ``bulge_q``, ``disk_angle_deg``,
        ``bulge_angle_deg`` (deg)), NaN where COSMOS has no equivalent (module docstring).
    report : SkipReport
        Rows read and skipped (non-finite magnitude), by reason.

    Raises
    ------
    FileNotFoundError, CatalogueError
        As :func:`check_catalogue`; also a ``_fits`` file whose IDENT column does not
        match the catalogue row for row.
    """
    path = Path(catalogue)
    table, _ = check_catalogue(path)
    n = len(table)
    mag = _column(table, "MAG").astype(np.float64)
    idents = _strings(_column(table, "IDENT"))
    try:
        ids = np.array([int(float(i)) for i in idents], dtype=np.int64)
    except ValueError:
        log.warning("%s: IDENT values are not integers; stored ids are catalogue row numbers", path)
        ids = np.arange(n, dtype=np.int64)
    bands = _strings(_column(table, "BAND")) if "BAND" in _upper(table) else []
    other_bands = sorted({b for b in bands if b.upper() != "F814W"})
    if other_bands:
        log.warning("%s: MAG measured in %s, used as the VIS magnitude", path, other_bands)

    nan = np.full(n, math.nan)
    columns: dict[str, np.ndarray] = {
        "cosmos_index": np.arange(n, dtype=np.int64),
        "id": ids,
        "redshift": nan.copy(),
        "flux_uJy": mag_to_flux(mag),
        "bulge_flux_uJy": nan.copy(),
        "disk_flux_uJy": nan.copy(),
        "bt_flux": nan.copy(),
        "disk_hlr_arcsec": nan.copy(),
        "bulge_hlr_arcsec": nan.copy(),
        "disk_q": nan.copy(),
        "bulge_q": nan.copy(),
        "disk_angle_deg": nan.copy(),
        "bulge_angle_deg": nan.copy(),
        "mag_vis": mag,
    }
    fit_path = fits_file_for(path)
    if fit_path.is_file():
        _add_fit_truth(columns, fit_path, idents)
    else:
        log.info("%s: no parametric fits (%s): truth shapes and redshifts are NaN", path, fit_path)

    frame = pd.DataFrame(columns)
    report = SkipReport(n_read=n)
    bad = ~np.isfinite(mag)
    if bad.any():
        report.skipped["with a non-finite magnitude"] += int(bad.sum())
        log.warning("%s: %s", path, report.summary())
    return frame[~bad].reset_index(drop=True), report


def _upper(table: fits.FITS_rec) -> set[str]:
    return {n.upper() for n in table.columns.names}


def _add_fit_truth(columns: dict[str, np.ndarray], fit_path: Path, idents: list[str]) -> None:
    """Fill redshift and shape truth from GalSim's parametric-fit file (in place)."""
    fit = _read_fits_table(fit_path)
    missing = [c for c in FIT_COLUMNS if c not in _upper(fit)]
    if missing:
        log.warning("%s lacks %s: truth shapes and redshifts are NaN", fit_path, missing)
        return
    if len(fit) != len(idents) or _strings(_column(fit, "IDENT")) != idents:
        raise CatalogueError(
            f"{fit_path} does not match its catalogue row for row (IDENT differs): use the "
            "_fits file that came with the catalogue, or remove it"
        )
    columns["redshift"] = _column(fit, "ZPHOT").astype(np.float64)
    use_bulge = _column(fit, "USE_BULGEFIT").astype(bool)
    bulgefit = _column(fit, "BULGEFIT").astype(np.float64)
    sersicfit = _column(fit, "SERSICFIT").astype(np.float64)
    hlr = _column(fit, "HLR").astype(np.float64)
    flux = _column(fit, "FLUX").astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        # BULGEFIT[0:8]: disk (n = 1), [8:16]: bulge (n = 4); HLR, FLUX: [1] bulge, [2] disk
        disk_q = np.where(use_bulge, bulgefit[:, 3], sersicfit[:, 3])
        bulge_q = np.where(use_bulge, bulgefit[:, 11], math.nan)
        bt = np.where(use_bulge, flux[:, 1] / (flux[:, 1] + flux[:, 2]), math.nan)
        disk_hlr = np.where(use_bulge, hlr[:, 2], hlr[:, 0]) / np.sqrt(disk_q)
        bulge_hlr = np.where(use_bulge, hlr[:, 1] / np.sqrt(bulge_q), math.nan)
        disk_angle = np.degrees(np.where(use_bulge, bulgefit[:, 7], sersicfit[:, 7]))
        bulge_angle = np.where(use_bulge, np.degrees(bulgefit[:, 15]), math.nan)
    total = columns["flux_uJy"]
    columns.update(
        bt_flux=bt,
        bulge_flux_uJy=bt * total,
        disk_flux_uJy=(1.0 - bt) * total,
        disk_q=disk_q,
        bulge_q=bulge_q,
        disk_hlr_arcsec=disk_hlr,
        bulge_hlr_arcsec=bulge_hlr,
        disk_angle_deg=(disk_angle + 90.0) % 180.0 - 90.0,
        bulge_angle_deg=(bulge_angle + 90.0) % 180.0 - 90.0,
    )


def cosmos_files(catalogue: str | os.PathLike) -> list[dict[str, str]]:
    """Every file of a COSMOS sample that a data set depends on, with its SHA-256.

    Parameters
    ----------
    catalogue : path-like
        RealGalaxyCatalog FITS file.

    Returns
    -------
    list of dict
        ``{"name": file name relative to the catalogue's folder, "role": "catalogue" |
        "fits" | "images" | "psf" | "noise", "sha256": hex digest}``, catalogue first.
        Hashing the full 25.2 sample (about 4.5 GB) takes a minute or so.
    """
    path = Path(catalogue)
    _, files = check_catalogue(path)
    entries = [("catalogue", path)]
    if fits_file_for(path).is_file():
        entries.append(("fits", fits_file_for(path)))
    entries += [(role, p) for role in ("images", "psf", "noise") for p in files.get(role, [])]
    log.info("COSMOS sample: hashing %d files", len(entries))
    return [
        {"name": os.path.relpath(p, path.parent), "role": role, "sha256": sha256_file(p)}
        for role, p in entries
    ]
