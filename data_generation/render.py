"""Draw galaxies on VIS stamps with GalSim.

A galaxy's pre-PSF profile comes from a :class:`~data_generation.morphology.Morphology`
(by default the analytic one: a de Vaucouleurs bulge (Sersic n = 4) plus an
exponential disk (n = 1), each with its own half-light radius, axis ratio and
position angle, :func:`galaxy_profile`); it is convolved with the VIS PSF and
integrated over 0.1 arcsec pixels. Pixel values are microJansky, so the stamp sums
to the galaxy's flux in uJy, less whatever falls outside the stamp.

Conventions
-----------
* Radii are half-light radii along the **semi-major axis**, as in EGG, whose size
  recipes are calibrated on CANDELS semi-major-axis sizes (van der Wel et al.
  2014). GalSim's ``shear`` preserves area, so the circularised radius handed to
  GalSim is ``r * sqrt(q)``.
* Position angles are degrees counter-clockwise from the +x pixel axis.
* Offsets are in pixels from the stamp's true centre (for an even stamp size the
  corner shared by the four central pixels: between pixels 31 and 32, counted
  from 0, of a 64-pixel side).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import galsim
import numpy as np

from data_generation.instrument import VISInstrument
from data_generation.morphology import (
    PROFILE_COLUMNS,
    AnalyticMorphology,
    Morphology,
    galaxy_profile,
)

__all__ = ["PROFILE_COLUMNS", "StampRenderer", "galaxy_profile"]


class StampRenderer:
    """Draws PSF-convolved galaxies on square VIS stamps.

    Parameters
    ----------
    instrument : VISInstrument
        PSF, pixel scale and drawing method.
    stamp_size : int
        Side of the square stamps, pixels.
    morphology : Morphology, optional
        How catalogue rows become profiles (default: :class:`AnalyticMorphology`).
    """

    def __init__(
        self,
        instrument: VISInstrument,
        stamp_size: int = 64,
        morphology: Morphology | None = None,
    ) -> None:
        if stamp_size < 8:
            raise ValueError(f"stamp_size must be at least 8 pixels, got {stamp_size}")
        self.instrument = instrument
        self.stamp_size = int(stamp_size)
        self.morphology = morphology if morphology is not None else AnalyticMorphology()

    def draw(
        self, profile: galsim.GSObject, offset_pix: tuple[float, float] = (0.0, 0.0)
    ) -> np.ndarray:
        """Convolve with the PSF and draw on a stamp.

        Parameters
        ----------
        profile : galsim.GSObject
            Galaxy profile, flux in uJy, lengths in arcsec.
        offset_pix : (float, float)
            Position of the profile centre relative to the stamp's true centre, pixels (x, y).

        Returns
        -------
        numpy.ndarray
            float64 ``(stamp_size, stamp_size)``, uJy per pixel; axis 0 is y, axis 1 is x.
        """
        image = galsim.Convolve(profile, self.instrument.psf).drawImage(
            nx=self.stamp_size,
            ny=self.stamp_size,
            scale=self.instrument.pixel_scale_arcsec,
            offset=offset_pix,
            method=self.instrument.draw_method,
            dtype=np.float64,
        )
        return image.array

    def render_row(
        self,
        row: Mapping[str, Any],
        offset_pix: tuple[float, float] = (0.0, 0.0),
        rng: np.random.Generator | None = None,
    ) -> tuple[np.ndarray, dict[str, float]]:
        """Draw a catalogue row with the renderer's morphology.

        Parameters
        ----------
        row : mapping
            Catalogue row.
        offset_pix : (float, float)
            Position of the galaxy centre relative to the stamp's true centre, pixels (x, y).
        rng : numpy.random.Generator, optional
            Source of the morphology's random draws; needed by the realistic ones.

        Returns
        -------
        stamp : numpy.ndarray
            float64 ``(stamp_size, stamp_size)``, uJy per pixel.
        truth : dict
            Row values the drawing changed, to store instead of the row's (e.g. the
            position angle of a randomly rotated COSMOS galaxy, deg); usually empty.
        """
        realisation = self.morphology.realise(row, rng)
        return self.draw(realisation.profile, offset_pix), dict(realisation.truth)

    def draw_row(
        self,
        row: Mapping[str, Any],
        offset_pix: tuple[float, float] = (0.0, 0.0),
        rng: np.random.Generator | None = None,
    ) -> np.ndarray:
        """Draw a catalogue row: the morphology's profile, then :meth:`draw` (uJy per pixel)."""
        return self.render_row(row, offset_pix, rng)[0]
