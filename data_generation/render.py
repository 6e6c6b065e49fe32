"""Draw double-Sersic galaxies on VIS stamps with GalSim.

A galaxy is a de Vaucouleurs bulge (Sersic n = 4) plus an exponential disk
(n = 1), each with its own half-light radius, axis ratio and position angle,
convolved with the VIS PSF and integrated over 0.1 arcsec pixels. Pixel values
are microJansky, so the stamp sums to the galaxy's flux in uJy, less whatever
falls outside the stamp.

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

import math
from collections.abc import Mapping

import galsim
import numpy as np

from data_generation.instrument import VISInstrument

#: Columns of a catalogue row that :func:`galaxy_profile` reads.
PROFILE_COLUMNS = (
    "bulge_flux_uJy",
    "disk_flux_uJy",
    "bulge_hlr_arcsec",
    "disk_hlr_arcsec",
    "bulge_q",
    "disk_q",
    "bulge_angle_deg",
    "disk_angle_deg",
)

_GSPARAMS = galsim.GSParams(maximum_fft_size=16384)


def galaxy_profile(row: Mapping[str, float]) -> galsim.GSObject:
    """The surface-brightness profile of a bulge + disk galaxy, before the PSF.

    Parameters
    ----------
    row : mapping
        Catalogue row with the :data:`PROFILE_COLUMNS`: component fluxes in uJy,
        semi-major-axis half-light radii in arcsec, axis ratios b/a in (0, 1],
        position angles in degrees.

    Returns
    -------
    galsim.GSObject
        Total flux in uJy; lengths in arcsec. A component with zero flux is left out.

    Raises
    ------
    ValueError
        If both components have zero flux.
    """
    components = []
    for name, profile_class in (("disk", galsim.Exponential), ("bulge", galsim.DeVaucouleurs)):
        flux = float(row[f"{name}_flux_uJy"])
        if flux <= 0:
            continue
        q = float(row[f"{name}_q"])
        hlr = float(row[f"{name}_hlr_arcsec"]) * math.sqrt(q)
        profile = profile_class(half_light_radius=hlr, flux=flux, gsparams=_GSPARAMS)
        components.append(profile.shear(q=q, beta=float(row[f"{name}_angle_deg"]) * galsim.degrees))
    if not components:
        raise ValueError("galaxy has neither bulge nor disk flux: nothing to draw")
    return components[0] if len(components) == 1 else galsim.Add(components)


class StampRenderer:
    """Draws PSF-convolved galaxies on square VIS stamps.

    Parameters
    ----------
    instrument : VISInstrument
        PSF, pixel scale and drawing method.
    stamp_size : int
        Side of the square stamps, pixels.
    """

    def __init__(self, instrument: VISInstrument, stamp_size: int = 64) -> None:
        if stamp_size < 8:
            raise ValueError(f"stamp_size must be at least 8 pixels, got {stamp_size}")
        self.instrument = instrument
        self.stamp_size = int(stamp_size)

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

    def draw_row(
        self, row: Mapping[str, float], offset_pix: tuple[float, float] = (0.0, 0.0)
    ) -> np.ndarray:
        """Draw a catalogue row: :func:`galaxy_profile` then :meth:`draw`."""
        return self.draw(galaxy_profile(row), offset_pix)
