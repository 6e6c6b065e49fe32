"""Estimating the pixel noise from the stamps (debvader_euclid.noise)."""

from __future__ import annotations

import numpy as np
import pytest

from debvader_euclid.noise import estimate_noise_sigma, stamp_noise_rms
from tests.test_neighbours import galaxy

SIGMA = 2e-3  # uJy/pixel


def stamps_with_galaxies(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        image = galaxy(float(rng.uniform(0.005, 0.5)))
        image += galaxy(float(rng.uniform(0.005, 0.5)), dy=float(rng.uniform(-12, 12)))
        out.append(image + rng.normal(0.0, SIGMA, image.shape))
    return np.stack(out).astype(np.float32)


def test_the_estimate_is_close_to_the_true_noise():
    stamps = stamps_with_galaxies(40, 1)
    assert estimate_noise_sigma(stamps) == pytest.approx(SIGMA, rel=0.03)
    per_stamp = stamp_noise_rms(stamps)
    assert per_stamp.shape == (40,)
    assert np.all(np.abs(per_stamp / SIGMA - 1) < 0.25)
    # the galaxies are clipped: the plain standard deviation is far too large
    assert np.median(stamps.std(axis=(1, 2))) > 1.5 * SIGMA


def test_refusals():
    with pytest.raises(ValueError, match="at least one"):
        estimate_noise_sigma(np.zeros((0, 8, 8), np.float32))
    with pytest.raises(ValueError, match="no pixel noise"):
        estimate_noise_sigma(np.zeros((2, 16, 16), np.float32))
    bad = stamps_with_galaxies(2, 2)
    bad[0, 3, 3] = np.nan
    with pytest.raises(ValueError, match="1 non-finite pixel"):
        estimate_noise_sigma(bad)
    with pytest.raises(ValueError, match=r"need \(N, S, S\) stamps"):
        stamp_noise_rms(np.zeros((16, 16), np.float32))
