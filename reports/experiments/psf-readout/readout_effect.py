"""How far does the PSF read-out of ``runs/s20/ft14-375k-psf-readout`` move the fluxes?

Deblends the Airy 0.17" validation blends, told their PSF, once with the read-out
correction as trained and once with its output weights ``U`` set to zero, and prints the
median flux residual of each and the size of the change. Run from the repository root
(``python reports/experiments/psf-readout/readout_effect.py``); output in
``readout_effect.txt``.
"""

import numpy as np

from data_generation.manifest import load_manifest
from data_generation.tfrecords import read_numpy
from debvader_euclid import Deblender
from debvader_euclid.psf_descriptor import data_set_psf_images

DATA = "data/robustness/blended-validation-airy-0.17"
RUN = "runs/s20/ft14-375k-psf-readout"

stamps = read_numpy(DATA, fields=["blend_noisy", "central_noiseless"])
psf = data_set_psf_images(load_manifest(DATA).config)[-1]
model = Deblender.load(RUN)
flux_true = stamps["central_noiseless"].reshape(len(stamps["central_noiseless"]), -1).sum(1)
with_readout = model.flux(stamps["blend_noisy"], psf=psf)
layer = model.networks.encoder.get_layer("psf_readout")
feature_kernel, psf_kernel, output_kernel = layer.get_weights()
layer.set_weights([feature_kernel, psf_kernel, np.zeros_like(output_kernel)])
without = model.flux(stamps["blend_noisy"], psf=psf)

change = np.abs(with_readout / without - 1)
for label, flux in (("with the read-out", with_readout), ("U set to zero", without)):
    print(f"median residual, {label}: {100 * np.median((flux_true - flux) / flux_true):+.2f} %")
print(
    f"flux change: median {100 * np.median(change):.3f} %, 99th percentile "
    f"{100 * np.percentile(change, 99):.3f} %"
)
print(f"norm of U: {np.linalg.norm(output_kernel):.3f}")
