"""Can the frozen stage-1 decoder draw a diffraction-limited galaxy with the right flux?

For the same 1,000 validation centrals (seed 4001) drawn with the Moffat and with the Airy
0.17" PSF, fit the latent point to the *noiseless* central stamp with the deblender's training
loss (``debvader_euclid.models.losses.PixelGaussianNLL``: pixel likelihood, with and without
the flux term), starting from the latent point of ``Deblender.load("analytic")``, and measure
the flux of the decoded image. ``decoder_fit.txt`` was written with the deblender shipped in
sessions 19-20 (``ft12``, ``trained_models/analytic/deblender`` at commit 3792b3f); since
session 21 "analytic" is the second pass, so a re-run starts elsewhere. A residual bias here
is one no encoder can remove. The Moffat stamps are those of the aperture-noise set (the same
galaxies as the Airy set, a third of the noise, which changes only the starting point).

Run from the repository root (``python reports/experiments/psf-readout/decoder_fit.py``);
output in ``decoder_fit.txt``.
"""

import numpy as np
import tensorflow as tf
import tf_keras as keras

from data_generation.manifest import load_manifest
from data_generation.tfrecords import read_numpy
from debvader_euclid import Deblender
from debvader_euclid.models.losses import PixelGaussianNLL
from debvader_euclid.models.psf_modulation import psf_features
from debvader_euclid.psf_descriptor import data_set_psf_images, psf_descriptor

N = 1000
sets = {
    "moffat": "data/robustness/blended-validation-aperture-noise",
    "airy-0.17": "data/robustness/blended-validation-airy-0.17",
}
model = Deblender.load("analytic")
net = model.networks
norm = net.normalizer
for name, folder in sets.items():
    d = read_numpy(
        folder, fields=["blend_noisy", "central_noiseless", "central_mag_vis"], max_examples=N
    )
    truth = d["central_noiseless"].astype(np.float32)
    f_true = truth.reshape(N, -1).sum(1)
    psf = data_set_psf_images(load_manifest(folder).config)[-1]
    feats = psf_features(psf_descriptor(psf, net.config.psf_radii_pixels), net.config.psf_reference)
    z0 = net.latent_distribution(d["blend_noisy"], feats).mean().numpy()
    y = tf.constant(norm.normalize(truth))
    for lam in (0.0, 1000.0):
        # The deblender's training loss (pixel likelihood + lam r**2, symmetric residual),
        # one value per stamp; summed so that each stamp's latent point gets its own gradient.
        loss_fn = PixelGaussianNLL(net.config, flux_weight=lam, flux_residual="symmetric")
        z = tf.Variable(z0)
        opt = keras.optimizers.Adam(0.02)
        for _ in range(300):
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(loss_fn.call(y, net.decoder(z, training=False)))
            opt.apply_gradients([(tape.gradient(loss, z), z)])
        f_fit = (
            norm.denormalize(net.decoder(z, training=False)[..., 0].numpy()).reshape(N, -1).sum(1)
        )
        res = (f_true - f_fit) / f_true
        mag = d["central_mag_vis"]
        bins = [(18, 22), (22, 23), (23, 24), (24, 25), (25, 25.5)]
        per = " ".join(
            f"{lo}-{hi}: {100 * np.median(res[(mag >= lo) & (mag < hi)]):+.2f}" for lo, hi in bins
        )
        print(
            f"{name:10s} flux term {lam:6.0f}: median {100 * np.median(res):+.2f} %  | {per}",
            flush=True,
        )
