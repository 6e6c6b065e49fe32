"""Neighbour subtraction (debvader_euclid.neighbours), with a known-shape stand-in network."""

from __future__ import annotations

import numpy as np
import pytest

from debvader_euclid.neighbours import (
    check_with_neighbours,
    deblend_subtracting_neighbours,
    neighbour_offsets,
    place_back,
    recentre,
)
from tests.exponential_stamps import PIXEL_SCALE, SIGMA, SIZE, draw

CENTRE = (SIZE - 1) / 2.0
SCALE_PIX = 2.5  # exponential scale length of the stand-in's "galaxies", pixels


def galaxy(amplitude: float, dy: float = 0.0, dx: float = 0.0) -> np.ndarray:
    """A circular exponential of peak ``amplitude`` centred ``(dy, dx)`` pixels from the centre."""
    y, x = np.mgrid[:SIZE, :SIZE]
    r = np.hypot(y - CENTRE - dy, x - CENTRE - dx)
    return (amplitude * np.exp(-r / SCALE_PIX)).astype(np.float32)


def fit_central_galaxy(stamps: np.ndarray) -> np.ndarray:
    """Stand-in for the deblender: the exponential at the centre fitting the middle 2x2 pixels.

    Like the network, it attributes all the light at the centre to the central galaxy,
    so a neighbour's wing there makes it too bright.
    """
    c = SIZE // 2
    mean = stamps[:, c - 1 : c + 1, c - 1 : c + 1].mean(axis=(1, 2))
    # the four middle pixels lie sqrt(0.5) pixel from the centre
    peak = mean / np.exp(-np.sqrt(0.5) / SCALE_PIX)
    return np.stack([galaxy(float(a)) for a in peak])


def test_recentre_puts_the_offset_pixel_at_the_centre_and_fills_the_rest():
    rng = np.random.default_rng(1)
    stamp = rng.normal(size=(SIZE, SIZE)).astype(np.float32)
    fill = np.full((SIZE, SIZE), -7.0, np.float32)
    out = recentre(stamp, 5, -9, fill)
    c = SIZE // 2
    assert out[c, c] == stamp[c + 5, c - 9]
    # rows shifted in from below the stamp's last row, columns from left of its first
    assert np.all(out[SIZE - 5 :, :] == -7.0)
    assert np.all(out[:, :9] == -7.0)
    assert np.all(out[: SIZE - 5, 9:] == stamp[5:, : SIZE - 9])


def test_place_back_inverts_recentre_where_the_pixels_exist():
    rng = np.random.default_rng(2)
    stamp = rng.normal(size=(SIZE, SIZE)).astype(np.float32)
    for dy, dx in [(0, 0), (3, -4), (-12, 7), (20, 20)]:
        back = place_back(recentre(stamp, dy, dx, np.zeros_like(stamp)), dy, dx)
        inside = np.zeros((SIZE, SIZE), bool)
        inside[max(0, dy) : SIZE + min(0, dy), max(0, dx) : SIZE + min(0, dx)] = True
        np.testing.assert_array_equal(back[inside], stamp[inside])
        assert np.all(back[~inside] == 0)


def test_neighbour_offsets_finds_the_neighbour_not_the_central():
    rng = np.random.default_rng(3)
    noise = rng.normal(0.0, SIGMA, (SIZE, SIZE))
    alone = draw(1.0, 0.3) + noise
    assert neighbour_offsets(alone, SIGMA) == []
    pair = alone + draw(2.0, 0.3, dx=10 * PIXEL_SCALE, dy=-6 * PIXEL_SCALE)
    # 10 pixels to the right (+x, columns), 6 pixels down in GalSim's y = rows
    offsets = neighbour_offsets(pair, SIGMA)
    assert len(offsets) == 1
    dy, dx = offsets[0]
    assert abs(dx - 10) <= 1
    assert abs(dy + 6) <= 1


def test_subtraction_corrects_the_light_a_neighbour_adds_at_the_centre():
    rng = np.random.default_rng(4)
    truth = galaxy(0.2)
    blend = truth + galaxy(1.0, dy=-12.0) + rng.normal(0, 1e-6, (SIZE, SIZE))
    stamps = blend[None].astype(np.float32)
    sigma = np.array([1e-6])

    def error(central: np.ndarray) -> float:
        return float(abs(central.sum() - truth.sum()) / truth.sum())

    error_plain = error(fit_central_galaxy(stamps)[0])
    errors = [
        error(deblend_subtracting_neighbours(fit_central_galaxy, stamps, sigma, n_passes=k)[0])
        for k in (1, 2)
    ]
    # the neighbour's wing adds 5 % to the plain estimate; pass 1's neighbour model
    # holds the central galaxy's wing, and pass 2 gives that back
    assert error_plain > 0.05
    assert errors[0] < error_plain / 100
    assert errors[1] < errors[0] / 5


def test_only_neighbours_brighter_than_the_threshold_are_subtracted():
    # a bright central galaxy and a neighbour 5 times fainter: the neighbour model,
    # re-centred, takes the central galaxy's wing, and subtracting it would take
    # light from the central galaxy; the default threshold (3 times the plain
    # central flux) leaves the stamp alone
    rng = np.random.default_rng(6)
    blend = galaxy(1.0) + galaxy(0.2, dy=-12.0) + rng.normal(0, 1e-6, (SIZE, SIZE))
    stamps = blend[None].astype(np.float32)
    sigma = np.array([1e-6])
    plain = fit_central_galaxy(stamps)
    kept = deblend_subtracting_neighbours(fit_central_galaxy, stamps, sigma)
    np.testing.assert_array_equal(kept, plain)
    every = deblend_subtracting_neighbours(fit_central_galaxy, stamps, sigma, min_flux_ratio=0.0)
    assert not np.array_equal(every, plain)
    # the plain prediction given by the caller is used as it is
    given = deblend_subtracting_neighbours(
        fit_central_galaxy, stamps, sigma, min_flux_ratio=0.0, plain=plain
    )
    np.testing.assert_array_equal(given, every)


def test_a_stamp_without_neighbours_gets_the_plain_prediction():
    stamps = np.stack([galaxy(0.5), galaxy(0.5) + galaxy(1.0, dy=8.0)])
    sigma = np.array([1e-3, 1e-3])
    out = deblend_subtracting_neighbours(fit_central_galaxy, stamps, sigma)
    np.testing.assert_array_equal(out[0], fit_central_galaxy(stamps[:1])[0])


def test_result_does_not_depend_on_the_batch_split():
    rng = np.random.default_rng(5)
    stamps = np.stack(
        [galaxy(0.15) + galaxy(1.0, dy=float(d), dx=-5.0) for d in (-9, 0, 7)]
    ) + rng.normal(0, 1e-3, (3, SIZE, SIZE)).astype(np.float32)
    sigma = np.full(3, 1e-3)
    whole = deblend_subtracting_neighbours(fit_central_galaxy, stamps, sigma, seed=11)
    # the neighbours are subtracted (else this test would compare plain predictions)
    assert not np.allclose(whole, fit_central_galaxy(stamps))
    for i in range(3):
        part = deblend_subtracting_neighbours(
            fit_central_galaxy, stamps[i : i + 1], sigma[i : i + 1], seed=11
        )
        np.testing.assert_array_equal(part[0], whole[i])


def test_bad_arguments():
    stamps = np.zeros((1, SIZE, SIZE), np.float32)
    with pytest.raises(ValueError, match="n_passes must be at least 1"):
        deblend_subtracting_neighbours(fit_central_galaxy, stamps, np.ones(1), n_passes=0)
    with pytest.raises(ValueError, match="min_flux_ratio must be >= 0"):
        deblend_subtracting_neighbours(fit_central_galaxy, stamps, np.ones(1), min_flux_ratio=-1)
    with pytest.raises(ValueError, match="plain has shape"):
        deblend_subtracting_neighbours(
            fit_central_galaxy, stamps, np.ones(1), plain=np.zeros((2, SIZE, SIZE), np.float32)
        )


def test_check_replaces_only_a_prediction_far_brighter_than_the_subtracted_one():
    plain = np.stack([galaxy(1.0), galaxy(1.0), galaxy(1.0), galaxy(1.0)])
    subtracted = np.stack([galaxy(0.9), galaxy(0.2), galaxy(0.34), -galaxy(0.1)])
    out = check_with_neighbours(plain, subtracted, ratio=3.0)
    np.testing.assert_array_equal(out[0], plain[0])  # agree: plain kept
    np.testing.assert_array_equal(out[1], subtracted[1])  # 5 times brighter: replaced
    np.testing.assert_array_equal(out[2], plain[2])  # under 3 times: kept
    np.testing.assert_array_equal(out[3], plain[3])  # no positive flux left: kept
    with pytest.raises(ValueError, match="ratio must be > 1"):
        check_with_neighbours(plain, subtracted, ratio=1.0)


def test_the_commands_offer_exactly_the_deblender_modes():
    # `deblend` and `evaluate` spell the modes out (importing this module at parser
    # build time would load sep and pandas for every `--help`); they must not drift
    import argparse

    from debvader_euclid.cli import build_parser
    from debvader_euclid.neighbours import NEIGHBOUR_MODES

    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name in ("deblend", "evaluate"):
        option = next(
            a for a in commands.choices[name]._actions if "--neighbours" in a.option_strings
        )
        assert tuple(option.choices) == NEIGHBOUR_MODES
        assert option.default == "keep"
