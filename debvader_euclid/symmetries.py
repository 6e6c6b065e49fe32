"""Averaging a stamp-to-stamp prediction over the 8 symmetries of the square.

The networks were trained with random rotations by multiples of 90 degrees and
flips (:mod:`debvader_euclid.training.data`), so they should answer a rotated
stamp with the rotated answer. They do so only approximately: each orientation
gives a slightly different prediction. :func:`dihedral_average` predicts all
eight orientations of each stamp, brings the eight predictions back to the
original orientation (exactly: the transforms only move pixels) and averages
them. It costs eight network calls per stamp.

The symmetry is about the centre of the stamp, the point between its four
middle pixels, where the generator draws the central galaxy (GalSim's
``true_center``). The flux is conserved by every transform, so the averaged
flux is the mean of the eight predicted fluxes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

#: Number of distinct orientations: 4 rotations, each with or without a flip.
N_SYMMETRIES = 8


def dihedral_transforms() -> Iterator[tuple[int, bool]]:
    """The 8 symmetries as ``(quarter_turns, flip)``: ``rot90(x, k)``, then a left-right flip."""
    for quarter_turns in range(4):
        for flip in (False, True):
            yield quarter_turns, flip


def apply_symmetry(stamps: np.ndarray, quarter_turns: int, flip: bool) -> np.ndarray:
    """Rotate ``(N, S, S)`` stamps by ``quarter_turns`` x 90 degrees, then flip left-right."""
    out = np.rot90(stamps, quarter_turns, axes=(1, 2))
    if flip:
        out = out[:, :, ::-1]
    return np.ascontiguousarray(out)


def undo_symmetry(stamps: np.ndarray, quarter_turns: int, flip: bool) -> np.ndarray:
    """The inverse of :func:`apply_symmetry` with the same arguments."""
    out = stamps[:, :, ::-1] if flip else stamps
    return np.ascontiguousarray(np.rot90(out, -quarter_turns, axes=(1, 2)))


def dihedral_average(predict: Callable[[np.ndarray], np.ndarray], stamps: np.ndarray) -> np.ndarray:
    """Mean of ``predict`` over the 8 orientations of each stamp, in the original orientation.

    Parameters
    ----------
    predict : callable
        Maps ``(N, S, S)`` stamps (uJy/pixel) to ``(N, S, S)`` predictions.
    stamps : numpy.ndarray
        ``(N, S, S)`` square stamps.

    Returns
    -------
    numpy.ndarray
        ``(N, S, S)`` float32, the average of the eight back-transformed predictions
        (accumulated in float64).

    Raises
    ------
    ValueError
        Stamps that are not ``(N, S, S)`` with square ``S x S`` pixels.
    """
    stamps = np.asarray(stamps)
    if stamps.ndim != 3 or stamps.shape[1] != stamps.shape[2]:
        raise ValueError(
            f"symmetry averaging needs square stamps of shape (N, S, S), got {stamps.shape}"
        )
    total = np.zeros(stamps.shape, dtype=np.float64)
    for quarter_turns, flip in dihedral_transforms():
        prediction = predict(apply_symmetry(stamps, quarter_turns, flip))
        total += undo_symmetry(np.asarray(prediction), quarter_turns, flip)
    return (total / N_SYMMETRIES).astype(np.float32)
