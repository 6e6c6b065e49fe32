"""``debvader-euclid generate``: simulate a data set of VIS stamps into TFRecords."""

from __future__ import annotations

import argparse
import logging
import os

from data_generation.catalog import DEFAULT_BAND
from data_generation.config import MORPHOLOGIES, GenerationConfig
from data_generation.instrument import NOISE_DEFINITIONS, PSF_MODELS, VISInstrumentConfig
from data_generation.morphology import RealisticMorphologyConfig
from data_generation.schema import KINDS

log = logging.getLogger(__name__)

_DEFAULTS = GenerationConfig(kind="isolated", n_stamps=1)
_VIS = VISInstrumentConfig()


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``generate`` subcommand."""
    parser = subparsers.add_parser(
        "generate",
        help="simulate isolated or blended VIS stamps into TFRecord shards",
        description=(
            "Simulate Euclid VIS stamps (uJy per 0.1 arcsec pixel) of double-Sersic galaxies "
            "(--morphology analytic) or galaxies with star-forming knots and lopsided clumps, "
            "or real HST COSMOS galaxies (--morphology realistic), from an EGG catalogue or "
            "the built-in EGG-recipe generator, into TFRecord shards with a manifest. "
            "Re-running the same command resumes an interrupted run."
        ),
    )
    parser.add_argument("--kind", choices=KINDS, required=True, help="isolated stamps or blends")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--n-stamps", type=int, required=True, help="number of examples")
    parser.add_argument("--seed", type=int, default=_DEFAULTS.seed, help="master seed (0)")
    parser.add_argument(
        "--catalogue",
        help="EGG FITS catalogue (default: the built-in EGG-recipe generator)",
    )
    parser.add_argument("--band", default=DEFAULT_BAND, help=f"band name ({DEFAULT_BAND})")
    parser.add_argument(
        "--workers",
        type=int,
        default=max(1, min(os.cpu_count() or 1, 8)),
        help="worker processes (default: the number of cores, at most 8)",
    )
    parser.add_argument(
        "--stamp-size", type=int, default=_DEFAULTS.stamp_size, help="stamp side, pixels (64)"
    )
    _add_mag_range(parser, "--mag-range", _DEFAULTS.central_mag_range, "the central galaxies")
    _add_mag_range(parser, "--neighbour-mag-range", _DEFAULTS.neighbour_mag_range, "the neighbours")
    parser.add_argument(
        "--bright-neighbour-fraction",
        type=float,
        default=_DEFAULTS.bright_neighbour_fraction,
        metavar="FRACTION",
        help="fraction of the blends whose neighbour is drawn from --bright-neighbour-mag-range "
        "(oversampling faint centrals beside bright neighbours, for training sets; default "
        "%(default)s: neighbours follow the catalogue's number counts)",
    )
    parser.add_argument(
        "--bright-neighbour-min-central-mag",
        type=float,
        default=None,
        metavar="MAG",
        help="oversample bright neighbours only beside central galaxies of at least this VIS "
        "AB magnitude (default: beside every central galaxy)",
    )
    _add_mag_range(
        parser,
        "--bright-neighbour-mag-range",
        _DEFAULTS.bright_neighbour_mag_range,
        "the oversampled neighbours",
    )
    parser.add_argument(
        "--annulus",
        type=float,
        nargs=2,
        metavar=("R_MIN", "R_MAX"),
        default=_DEFAULTS.annulus_arcsec,
        help="annulus of the neighbour around the central galaxy, arcsec (%(default)s)",
    )
    parser.add_argument(
        "--max-offset",
        type=float,
        default=_DEFAULTS.max_centre_offset_pix,
        help="sub-pixel jitter of the central galaxy, pixels (%(default)s)",
    )
    parser.add_argument(
        "--shard-size", type=int, default=_DEFAULTS.shard_size, help="examples per shard (1000)"
    )
    morphology = parser.add_argument_group("galaxy morphology")
    morphology.add_argument(
        "--morphology",
        choices=MORPHOLOGIES,
        default=_DEFAULTS.morphology,
        help="analytic: bulge + disk double Sersic; realistic: the same with star-forming "
        "knots and lopsided clumps tied to the sSFR, or COSMOS galaxies with "
        "--cosmos-catalogue (%(default)s)",
    )
    morphology.add_argument(
        "--cosmos-catalogue",
        metavar="FILE",
        help="GalSim RealGalaxyCatalog of the HST COSMOS sample (galsim_download_cosmos, "
        "e.g. real_galaxy_catalog_25.2.fits): with --morphology realistic, draw real COSMOS "
        "galaxies (flux from their F814W magnitude) instead of the embedded model",
    )
    morphology.add_argument(
        "--realistic-config",
        metavar="FILE",
        help="JSON object overriding parameters of the embedded realistic morphology "
        "(names: see data_generation.morphology.RealisticMorphologyConfig)",
    )
    instrument = parser.add_argument_group("VIS instrument")
    instrument.add_argument("--psf-model", choices=PSF_MODELS, default=_VIS.psf_model)
    instrument.add_argument(
        "--psf-fwhm", type=float, default=_VIS.psf_fwhm_arcsec, help="PSF FWHM, arcsec (0.17)"
    )
    instrument.add_argument(
        "--psf-image", help="FITS image of a PSF to use instead of the analytic model"
    )
    instrument.add_argument("--psf-image-scale", type=float, help="its pixel scale, arcsec")
    instrument.add_argument(
        "--psf-image-includes-pixel",
        action="store_true",
        help="the PSF image is an effective PSF that includes the pixel response",
    )
    instrument.add_argument(
        "--mag-limit", type=float, default=_VIS.mag_limit, help="limiting magnitude (27.1)"
    )
    instrument.add_argument(
        "--mag-limit-nsigma",
        type=float,
        default=_VIS.mag_limit_nsigma,
        help="significance of a source at the limiting magnitude (5)",
    )
    instrument.add_argument(
        "--noise-definition", choices=NOISE_DEFINITIONS, default=_VIS.noise_definition
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace a data set of a different configuration in --out",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.set_defaults(func=run)


def _add_mag_range(
    parser: argparse.ArgumentParser, flag: str, default: tuple[float, float], whose: str
) -> None:
    """A ``BRIGHT FAINT`` pair of VIS AB magnitudes."""
    parser.add_argument(
        flag,
        type=float,
        nargs=2,
        metavar=("BRIGHT", "FAINT"),
        default=default,
        help=f"VIS AB magnitude range of {whose} (%(default)s)",
    )


def config_from_args(args: argparse.Namespace) -> GenerationConfig:
    """Build the :class:`GenerationConfig` from parsed arguments.

    Raises
    ------
    FileNotFoundError
        ``--cosmos-catalogue`` or ``--realistic-config`` names a missing file.
    ValueError
        Bad values, or morphology options that do not go together (the message
        names the fix).
    """
    cosmos = None
    if args.cosmos_catalogue:
        cosmos = os.path.abspath(args.cosmos_catalogue)
        if not os.path.isfile(cosmos):
            raise FileNotFoundError(
                f"COSMOS catalogue {cosmos} does not exist: download the HST COSMOS sample with "
                "GalSim's `galsim_download_cosmos` and pass its real_galaxy_catalog_25.2.fits"
            )
    realistic = RealisticMorphologyConfig()
    if args.realistic_config:
        if args.morphology != "realistic":
            raise ValueError(
                "--realistic-config sets the realistic morphology: add --morphology realistic"
            )
        realistic = RealisticMorphologyConfig.from_json(args.realistic_config)
    instrument = VISInstrumentConfig(
        psf_model=args.psf_model,
        psf_fwhm_arcsec=args.psf_fwhm,
        mag_limit=args.mag_limit,
        mag_limit_nsigma=args.mag_limit_nsigma,
        noise_definition=args.noise_definition,
        psf_image=os.path.abspath(args.psf_image) if args.psf_image else None,
        psf_image_scale_arcsec=args.psf_image_scale,
        psf_image_includes_pixel=args.psf_image_includes_pixel,
    )
    return GenerationConfig(
        kind=args.kind,
        n_stamps=args.n_stamps,
        seed=args.seed,
        stamp_size=args.stamp_size,
        central_mag_range=tuple(args.mag_range),
        neighbour_mag_range=tuple(args.neighbour_mag_range),
        bright_neighbour_fraction=args.bright_neighbour_fraction,
        bright_neighbour_mag_range=tuple(args.bright_neighbour_mag_range),
        bright_neighbour_min_central_mag=args.bright_neighbour_min_central_mag,
        annulus_arcsec=tuple(args.annulus),
        max_centre_offset_pix=args.max_offset,
        shard_size=args.shard_size,
        catalogue=os.path.abspath(args.catalogue) if args.catalogue else None,
        band=args.band,
        morphology=args.morphology,
        instrument=instrument,
        realistic=realistic,
        cosmos_catalogue=cosmos,
    )


def run(args: argparse.Namespace) -> int:
    """Run ``generate``; returns the exit status."""
    from data_generation.pipeline import generate_dataset

    config = config_from_args(args)
    summary = generate_dataset(
        config,
        args.out,
        workers=args.workers,
        overwrite=args.overwrite,
        progress=not args.no_progress,
    )
    for line in summary.lines():
        log.info("%s", line)
    return 0
