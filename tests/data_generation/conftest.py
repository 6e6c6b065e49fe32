"""Fixtures: small EGG-layout catalogues written by the tests themselves."""

from __future__ import annotations

import numpy as np
import pytest

from data_generation.catalog import mag_to_flux, write_egg_fits


def egg_columns(n: int, seed: int = 1, mag_range=(19.0, 25.0), max_disk_arcsec=0.6) -> dict:
    """EGG columns for ``n`` galaxies with VIS as the only band (uJy, arcsec, deg)."""
    rng = np.random.default_rng(seed)
    flux = mag_to_flux(rng.uniform(*mag_range, n))
    bt = rng.uniform(0, 1, n)
    angle = rng.uniform(-90, 90, n)
    return {
        "ID": np.arange(n) + 1000,
        "RA": rng.uniform(150, 150.1, n),
        "DEC": rng.uniform(2, 2.1, n),
        "Z": rng.uniform(0.1, 3, n),
        "M": rng.uniform(8, 11.5, n),
        "DISK_RADIUS": rng.uniform(0.05, max_disk_arcsec, n),
        "BULGE_RADIUS": rng.uniform(0.03, 0.3, n),
        "DISK_RATIO": rng.uniform(0.2, 1, n),
        "BULGE_RATIO": rng.uniform(0.5, 1, n),
        "DISK_ANGLE": angle,
        "BULGE_ANGLE": angle,
        "BT": rng.uniform(0, 1, n),
        "PASSIVE": rng.uniform(size=n) < 0.2,
        "FLUX": flux[:, None],
        "FLUX_BULGE": (flux * bt)[:, None],
        "FLUX_DISK": (flux * (1 - bt))[:, None],
    }


@pytest.fixture(scope="session")
def egg_catalogue(tmp_path_factory):
    """A 300-galaxy EGG-layout catalogue, VIS 19-26.5, one band ``euclid-vis``."""
    path = tmp_path_factory.mktemp("catalogue") / "egg.fits"
    write_egg_fits(path, egg_columns(300, mag_range=(19.0, 26.5)), ["euclid-vis"], [0.75])
    return path
