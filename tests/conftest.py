"""Fixtures: tiny synthetic data sets written through the real ShardWriter, tiny configs.

Galaxies are elliptical exponential profiles (analytic, no GalSim) with total
fluxes log-uniform in 0.1-100 uJy, plus Gaussian noise of 0.0035 uJy/pixel, on
small stamps so that training a few epochs takes seconds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from data_generation.manifest import Manifest, save_manifest, shard_filename
from data_generation.schema import SCHEMA_VERSION, truth_fields
from data_generation.tfrecords import ShardWriter

NOISE_SIGMA = 0.0035  # uJy/pixel


def galaxy(
    size: int, flux: float, hlr: float, q: float, angle: float, dx: float, dy: float
) -> np.ndarray:
    """Noiseless elliptical exponential profile, sum = ``flux`` (uJy), hlr in pixels."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    xx -= size / 2 + dx
    yy -= size / 2 + dy
    c, s = np.cos(angle), np.sin(angle)
    u = c * xx + s * yy
    v = (-s * xx + c * yy) / q
    r = np.hypot(u, v)
    profile = np.exp(-1.678 * r / hlr)
    return (flux * profile / profile.sum()).astype(np.float32)


def _truth(rng: np.random.Generator, role: str, flux: float, dx: float, dy: float) -> dict:
    return {
        f"{role}_id": int(rng.integers(1, 10**9)),
        f"{role}_redshift": float(rng.uniform(0.1, 3)),
        f"{role}_flux_uJy": flux,
        f"{role}_stamp_flux_uJy": flux,
        f"{role}_mag_vis": 23.9 - 2.5 * np.log10(flux),
        f"{role}_bt_flux": 0.0,
        f"{role}_disk_hlr_arcsec": 0.2,
        f"{role}_bulge_hlr_arcsec": 0.1,
        f"{role}_disk_q": 0.7,
        f"{role}_bulge_q": 1.0,
        f"{role}_angle_deg": 0.0,
        f"{role}_offset_x_pix": dx,
        f"{role}_offset_y_pix": dy,
    }


def make_example(kind: str, size: int, rng: np.random.Generator) -> dict:
    """One synthetic example with every schema field of ``kind``."""

    def draw(max_offset: float) -> tuple[np.ndarray, float, float, float]:
        flux = float(10 ** rng.uniform(-1, 2))
        dx, dy = rng.uniform(-max_offset, max_offset, 2)
        image = galaxy(
            size,
            flux,
            rng.uniform(1.0, size / 8),
            rng.uniform(0.3, 1.0),
            rng.uniform(0, np.pi),
            dx,
            dy,
        )
        return image, flux, float(dx), float(dy)

    central, flux, dx, dy = draw(1.0)
    example = {
        "central_noiseless": central,
        "central_noisy": central + rng.normal(0, NOISE_SIGMA, central.shape).astype(np.float32),
        "noise_sigma_uJy": NOISE_SIGMA,
        **_truth(rng, "central", flux, dx, dy),
    }
    if kind == "blended":
        angle, distance = rng.uniform(0, 2 * np.pi), rng.uniform(size / 6, size / 3)
        nb = galaxy(
            size,
            float(10 ** rng.uniform(-1, 2)),
            rng.uniform(1.0, size / 8),
            rng.uniform(0.3, 1.0),
            rng.uniform(0, np.pi),
            distance * np.cos(angle),
            distance * np.sin(angle),
        )
        noise = rng.normal(0, NOISE_SIGMA, central.shape).astype(np.float32)
        example.update(
            # as in data_generation.blends: the isolated central carries the blend's noise
            central_noisy=central + noise,
            blend_noisy=central + nb + noise,
            neighbour_noiseless=nb,
            neighbour_distance_arcsec=0.1 * distance,
            blendedness=0.1,
            **_truth(rng, "neighbour", float(nb.sum()), 0.0, 0.0),
        )
    expected = {f.name for f in truth_fields(kind)}
    missing = expected - set(example)
    assert not missing, missing
    return example


def _write_dataset(
    folder: Path, kind: str, n_examples: int, n_shards: int, size: int = 32, seed: int = 0
) -> Path:
    """Write a synthetic data set (shards + manifest) and return its folder."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    per_shard = np.array_split(np.arange(n_examples), n_shards)
    records = []
    for index, rows in enumerate(per_shard):
        with ShardWriter(folder / shard_filename(index, n_shards), kind, size) as writer:
            for _ in rows:
                writer.write(make_example(kind, size, rng))
        records.append(writer.record(index=index, seed=seed + index))
    save_manifest(
        folder,
        Manifest(
            kind=kind,
            schema_version=SCHEMA_VERSION,
            stamp_size=size,
            seed=seed,
            config={"synthetic": "tests/training/conftest.py"},
            shards=records,
        ),
    )
    return folder


#: A network small enough to train a few epochs on 32x32 stamps in seconds.
TINY_MODEL = {
    "latent_dim": 8,
    "filters": [8, 16],
    "kernel_sizes": [3, 3],
    "kl_weight": 0.01,
    "likelihood_sigma": 0.1,
}
TINY_TRAINING = {
    "seed": 3,
    "batch_size": 32,
    "epochs": 3,
    "learning_rate": 3e-3,
    "lr_schedule": "cosine",
    "shuffle_buffer": 256,
    "val_fraction": 0.25,
    "early_stopping_patience": 5,
}


def _tiny_config(**training_changes) -> dict:
    """``{"model": TINY_MODEL, "training": TINY_TRAINING | training_changes}``."""
    return {"model": dict(TINY_MODEL), "training": {**TINY_TRAINING, **training_changes}}


@pytest.fixture(scope="session")
def write_dataset():
    """``write_dataset(folder, kind, n_examples, n_shards, size=32, seed=0) -> folder``."""
    return _write_dataset


@pytest.fixture(scope="session")
def tiny_config():
    """``tiny_config(**training_changes) -> {"model": ..., "training": ...}``."""
    return _tiny_config


@pytest.fixture(scope="session")
def isolated_data(tmp_path_factory) -> Path:
    """320 isolated 32x32 examples in 4 shards (the last one validates)."""
    return _write_dataset(tmp_path_factory.mktemp("isolated"), "isolated", 320, 4, seed=1)


@pytest.fixture(scope="session")
def blended_data(tmp_path_factory) -> Path:
    """320 blended 32x32 examples in 4 shards."""
    return _write_dataset(tmp_path_factory.mktemp("blended"), "blended", 320, 4, seed=2)


@pytest.fixture(scope="session")
def trained_vae(tmp_path_factory, isolated_data) -> Path:
    """A finished tiny stage-1 folder (3 epochs)."""
    from debvader_euclid.training import train_vae

    out = tmp_path_factory.mktemp("runs") / "vae"
    result = train_vae(isolated_data, out, config=_tiny_config(), verbose=0)
    assert result.status == "complete"
    return out


@pytest.fixture(scope="session")
def trained_deblender(tmp_path_factory, trained_vae, blended_data) -> Path:
    """A finished tiny stage-2 folder (3 epochs) on top of :func:`trained_vae`."""
    from debvader_euclid.training import train_deblender

    out = tmp_path_factory.mktemp("runs") / "deblender"
    result = train_deblender(trained_vae, blended_data, out, config=_tiny_config(), verbose=0)
    assert result.status == "complete"
    return out
