"""Non-learned baselines the deblender is compared with.

:mod:`.sep_photometry` measures the central galaxy of each stamp with sep
(SExtractor as a library): FLUX_AUTO (Kron aperture) and isophotal flux.
"""

from debvader_euclid.baselines.sep_photometry import sep_central_photometry

__all__ = ["sep_central_photometry"]
