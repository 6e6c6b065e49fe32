"""The quality flag: is the galaxy at the stamp centre detected as its own source?"""

from __future__ import annotations

import numpy as np
import pytest

import debvader_euclid
from debvader_euclid.baselines.sep_photometry import sep_central_photometry
from debvader_euclid.quality import DETECTION_COLUMNS, central_detection
from tests.exponential_stamps import SIGMA, SIZE, draw


def noisy(truths: list[np.ndarray], seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.stack(truths) + rng.normal(0.0, SIGMA, (len(truths), SIZE, SIZE))


def test_detected_missing_and_offset_centrals():
    images = noisy(
        [
            draw(1.0, 0.3),  # VIS ~23.9 at the centre: detected
            np.zeros((SIZE, SIZE)),  # blank: nothing detected
            draw(1.0, 0.3, dx=0.5),  # the only galaxy 5 pixels away: not the central
        ],
        seed=1,
    )
    flags = central_detection(images, SIGMA)
    assert list(flags.columns) == list(DETECTION_COLUMNS)
    assert flags["central_detected"].tolist() == [True, False, False]
    assert flags["offset_pixels"][0] < 0.5
    assert np.isnan(flags["offset_pixels"][1])
    assert flags["offset_pixels"][2] == pytest.approx(5.0, abs=0.3)
    assert flags["n_sources"].tolist() == [1, 0, 1]
    # The offset limit is the caller's: 6 pixels accepts the shifted galaxy.
    assert central_detection(images[2:], SIGMA, max_offset_pixels=6.0)["central_detected"][0]
    # Without a noise map the noise is estimated from the stamps: same flags here.
    estimated = central_detection(images, "estimate")
    assert estimated["central_detected"].tolist() == [True, False, False]
    with pytest.raises(ValueError, match="or 'estimate'"):
        central_detection(images, "auto")


def test_faint_central_under_a_bright_close_neighbour_is_flagged():
    # The test sets' catastrophic case: a VIS 25.4 galaxy 0.4 arcsec from one 4.6 mag
    # brighter. sep sees one source, pulled towards the neighbour, and the flag is raised
    # (still at 1.6 arcsec for this bright, extended neighbour); 2 arcsec apart sep sees
    # two sources and the flag passes.
    faint = draw(0.25, 0.2)
    close = noisy([faint + draw(17.0, 0.4, dx=0.4)], seed=2)
    apart = noisy([faint + draw(17.0, 0.4, dx=2.0)], seed=2)
    flags_close = central_detection(close, SIGMA)
    flags_apart = central_detection(apart, SIGMA)
    assert not flags_close["central_detected"][0]
    assert flags_close["offset_pixels"][0] > 2.0
    assert flags_apart["central_detected"][0]
    assert flags_apart["n_sources"][0] == 2


def test_same_decision_as_the_sep_baseline():
    rng = np.random.default_rng(3)
    fluxes, shifts = rng.uniform(0.1, 3, 12), rng.uniform(0, 0.4, 12)  # uJy, arcsec
    truths = [draw(f, 0.3, dx=d) for f, d in zip(fluxes, shifts, strict=True)]
    images = noisy(truths, seed=4).astype(np.float32)[..., None]  # (N, S, S, 1) float32
    flags = central_detection(images, np.full(12, SIGMA))
    table = sep_central_photometry(images, SIGMA)
    np.testing.assert_array_equal(flags["central_detected"], table["detected"])
    np.testing.assert_array_equal(flags["n_sources"], table["n_objects"])
    np.testing.assert_allclose(flags["offset_pixels"], table["distance_pix"])
    assert 0 < flags["central_detected"].sum() < 12  # both outcomes exercised


def test_top_level_export():
    assert debvader_euclid.central_detection is central_detection
    assert "central_detection" in dir(debvader_euclid)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"noise_sigma_uJy": 0.0}, "finite and > 0"),
        ({"noise_sigma_uJy": np.full(3, SIGMA)}, r"one per stamp, shape \(2,\)"),
        ({"noise_sigma_uJy": SIGMA, "max_offset_pixels": -1.0}, "max_offset_pixels"),
        ({"noise_sigma_uJy": SIGMA, "thresh_nsigma": 0.0}, "thresh_nsigma"),
    ],
)
def test_bad_arguments_name_the_problem(kwargs, message):
    images = noisy([draw(1.0, 0.3)] * 2, seed=5)
    with pytest.raises(ValueError, match=message):
        central_detection(images, **kwargs)


def test_bad_stamp_shape_is_refused():
    with pytest.raises(ValueError, match="shape"):
        central_detection(np.zeros((2, 3, SIZE, SIZE)), SIGMA)
