"""Assembling encoders and decoders into the networks of the two stages.

Stage 1 (``"vae"``)
    ``encoder -> latent sample -> decoder``, trained on noisy isolated stamps to
    reconstruct the noiseless ones.
Stage 2 (``"deblender"``)
    a freshly initialised ``blend_encoder`` feeding the stage-1 decoder, whose
    weights are frozen (``decoder.trainable = False``), trained on noisy blends
    to reconstruct the noiseless central galaxy.

Both are plain functional :class:`tf_keras.Model` objects built from a
:class:`~debvader_euclid.models.config.ModelConfig`; nothing but weights is ever
saved, so no Lambda layer or pickled function ends up in an artefact.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
import tf_keras as keras

from debvader_euclid.models.config import ModelConfig
from debvader_euclid.models.decoder import build_decoder
from debvader_euclid.models.encoder import build_encoder
from debvader_euclid.models.losses import split_output
from debvader_euclid.models.normalization import ArcsinhNormalizer

tfd = tfp.distributions

#: Stage names, as written in a trained stage's ``config.json``.
STAGES = ("vae", "deblender")


class LatentSampler:
    """Draw the latent sample during training from a checkpointable generator.

    The layer's default (``tfd.Distribution.sample`` with TensorFlow's global seed)
    restarts its random stream when a run is resumed in a new process; drawing
    stateless samples from a :class:`tf.random.Generator` whose state is saved in
    the training checkpoint makes a resumed run draw exactly the samples of an
    uninterrupted one.

    This is deliberately not a ``tf.Module``: Keras would otherwise track the
    generator state as a weight of the latent layer.

    Parameters
    ----------
    seed : int
        Seed of the generator. Create the sampler inside the distribution
        strategy's scope.
    """

    def __init__(self, seed: int) -> None:
        self.generator = tf.random.Generator.from_seed(int(seed))

    def __call__(self, distribution: tfd.Distribution) -> tf.Tensor:
        seed = tf.cast(self.generator.make_seeds(1)[:, 0], tf.int32)
        return distribution.sample(seed=seed)


def build_encoder_decoder(
    config: ModelConfig, seed: int = 0, sampler: LatentSampler | None = None
) -> tuple[keras.Model, keras.Model]:
    """Fresh stage-1 encoder and decoder.

    Parameters
    ----------
    config : ModelConfig
    seed : int
        Seed of the initial weights.
    sampler : LatentSampler, optional
        Latent draws for training; None gives the deterministic posterior mean.

    Returns
    -------
    encoder, decoder : tf_keras.Model
    """
    encoder = build_encoder(config, seed=seed, convert_to_tensor_fn=sampler, name="encoder")
    decoder = build_decoder(config, seed=seed, name="decoder")
    return encoder, decoder


def build_blend_encoder(
    config: ModelConfig, seed: int = 0, sampler: LatentSampler | None = None
) -> keras.Model:
    """Fresh stage-2 encoder for blends (same architecture, its own initial weights)."""
    return build_encoder(
        config, seed=seed + 7_919, convert_to_tensor_fn=sampler, name="blend_encoder"
    )


def connect(encoder: keras.Model, decoder: keras.Model, name: str) -> keras.Model:
    """``decoder(encoder(stamp))`` as one model; the encoder's KL loss included.

    Parameters
    ----------
    encoder, decoder : tf_keras.Model
    name : str
        ``"vae"`` or ``"deblender"``.

    Returns
    -------
    tf_keras.Model
        Input ``(batch, S, S, 1)`` normalised stamps (a PSF-conditioned encoder:
        ``[stamps, psf (batch, K)]``), output the raw decoder parameters
        ``(batch, S, S, channels)``.
    """
    if isinstance(encoder.input_shape, list):
        inputs = [
            keras.Input(shape=shape[1:], name=tensor.name.split(":")[0])
            for shape, tensor in zip(encoder.input_shape, encoder.inputs, strict=True)
        ]
    else:
        inputs = keras.Input(shape=encoder.input_shape[1:], name="stamp")
    return keras.Model(inputs, decoder(encoder(inputs)), name=name)


def freeze(model: keras.Model) -> keras.Model:
    """Mark every weight of ``model`` non-trainable (returns ``model``)."""
    model.trainable = False
    for layer in model.layers:
        layer.trainable = False
    return model


@dataclass
class StageNetworks:
    """The networks of a trained stage, ready for inference.

    Attributes
    ----------
    stage : {"vae", "deblender"}
    config : ModelConfig
    encoder : tf_keras.Model
        Stage-1 encoder or stage-2 blend encoder; outputs the posterior mean when
        called as a tensor, the full posterior via :meth:`latent_distribution`.
    decoder : tf_keras.Model
        The stage-1 decoder (shared by both stages).
    """

    stage: str
    config: ModelConfig
    encoder: keras.Model
    decoder: keras.Model
    _forward: Callable[[tf.Tensor], tuple[tf.Tensor, tf.Tensor]] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    def _compiled_forward(self) -> Callable[..., tuple[tf.Tensor, tf.Tensor]]:
        """``(stamp, psf) -> (mean, sigma)`` in normalised units, compiled once per instance."""
        if self._forward is None:
            size = self.config.stamp_size
            k = len(self.config.psf_radii_pixels)
            conditioned = self.config.psf_input

            @tf.function(
                input_signature=[
                    tf.TensorSpec([None, size, size, 1], tf.float32),
                    tf.TensorSpec([None, k], tf.float32),
                ]
            )
            def forward(x: tf.Tensor, psf: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
                inputs = [x, psf] if conditioned else x
                z = tf.convert_to_tensor(self.encoder(inputs, training=False))
                return split_output(self.decoder(z, training=False), self.config)

            self._forward = forward
        return self._forward

    def _psf_input(self, psf_features: np.ndarray | None, n: int) -> np.ndarray:
        """``(n, K)`` float32 PSF vectors; zeros (the reference PSF) for None."""
        k = len(self.config.psf_radii_pixels)
        if psf_features is None:
            return np.zeros((n, k), dtype=np.float32)
        if not self.config.psf_input:
            raise ValueError(
                "this model was not trained with PSF input (model.psf_input is false): it "
                "cannot be given a PSF; leave psf out, or train a PSF-conditioned deblender"
            )
        features = np.asarray(psf_features, dtype=np.float32)
        if features.ndim == 1:
            features = np.broadcast_to(features, (n, features.shape[0]))
        if features.shape != (n, k):
            raise ValueError(
                f"expected PSF vectors of shape ({k},) or ({n}, {k}), got {features.shape}"
            )
        return np.ascontiguousarray(features)

    @property
    def normalizer(self) -> ArcsinhNormalizer:
        """The normalisation the networks were trained with."""
        return ArcsinhNormalizer(self.config.normalization_scale)

    def _as_input(self, images: np.ndarray) -> np.ndarray:
        images = np.asarray(images, dtype=np.float32)
        size = self.config.stamp_size
        if images.ndim == 2:
            images = images[None]
        if images.ndim == 4 and images.shape[-1] == 1:
            images = images[..., 0]
        if images.ndim != 3 or images.shape[1:] != (size, size):
            raise ValueError(
                f"expected stamps of shape (N, {size}, {size}) in uJy/pixel, got {images.shape}"
            )
        return self.normalizer.normalize(images)[..., None]

    def latent_distribution(
        self, images: np.ndarray, psf_features: np.ndarray | None = None
    ) -> tfd.Distribution:
        """Posterior over the latent space for each stamp.

        Parameters
        ----------
        images : numpy.ndarray
            ``(N, S, S)`` stamps in uJy/pixel.
        psf_features : numpy.ndarray, optional
            PSF-conditioned models only: ``(K,)`` or ``(N, K)`` PSF vectors
            (:func:`~debvader_euclid.models.psf_modulation.psf_features`); None for
            the model's reference PSF.

        Returns
        -------
        tfp.distributions.MultivariateNormalTriL
            Batch shape ``(N,)``, event shape ``(latent_dim,)``.
        """
        x = self._as_input(images)
        psf = self._psf_input(psf_features, len(x))
        coercible = self.encoder([x, psf] if self.config.psf_input else x, training=False)
        return coercible.tensor_distribution

    def predict(
        self,
        images: np.ndarray,
        batch_size: int = 256,
        return_sigma: bool = False,
        psf_features: np.ndarray | None = None,
    ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Reconstruct (stage 1) or deblend (stage 2) stamps, deterministically.

        The latent posterior mean is decoded; nothing is random.

        Parameters
        ----------
        images : numpy.ndarray
            ``(N, S, S)`` (or one ``(S, S)``) noisy stamps in uJy/pixel.
        batch_size : int
            Stamps per forward pass.
        return_sigma : bool
            Also return the per-pixel standard deviation of the likelihood
            propagated to uJy/pixel (first order).
        psf_features : numpy.ndarray, optional
            PSF-conditioned models only: ``(K,)`` or ``(N, K)`` PSF vectors
            (:func:`~debvader_euclid.models.psf_modulation.psf_features`); None for
            the model's reference PSF.

        Returns
        -------
        numpy.ndarray or (numpy.ndarray, numpy.ndarray)
            ``(N, S, S)`` float32 noiseless central galaxy in uJy/pixel; its sum
            over pixels is the predicted flux in uJy. With ``return_sigma`` also
            the ``(N, S, S)`` sigma in uJy/pixel.
        """
        x = self._as_input(images)
        psf = self._psf_input(psf_features, len(x))
        forward = self._compiled_forward()
        means, sigmas = [], []
        for start in range(0, len(x), batch_size):
            stop = start + batch_size
            mean, sigma = forward(tf.constant(x[start:stop]), tf.constant(psf[start:stop]))
            means.append(mean.numpy())
            sigmas.append(sigma.numpy())
        norm = self.normalizer
        mean = np.concatenate(means) if means else np.zeros((0,) + x.shape[1:3], np.float32)
        flux = norm.denormalize(mean)
        if not return_sigma:
            return flux
        sigma = np.concatenate(sigmas) if sigmas else np.zeros_like(mean)
        return flux, norm.flux_sigma(mean, sigma).astype(np.float32)
