"""The variational autoencoders: configuration, normalisation, networks, likelihood.

Import from here::

    from debvader_euclid.models import ModelConfig, ArcsinhNormalizer, build_encoder_decoder

TensorFlow models use tf-keras (Keras 2, ``import tf_keras``), which
``tensorflow_probability.layers`` requires; nothing global is changed on import.
"""

from debvader_euclid.models.config import LIKELIHOODS, ModelConfig
from debvader_euclid.models.decoder import build_decoder
from debvader_euclid.models.encoder import KLDivergenceToPrior, build_encoder, latent_layer
from debvader_euclid.models.losses import PixelGaussianNLL, split_output
from debvader_euclid.models.normalization import ArcsinhNormalizer
from debvader_euclid.models.vae import (
    STAGES,
    LatentSampler,
    StageNetworks,
    build_blend_encoder,
    build_encoder_decoder,
    connect,
    freeze,
)

__all__ = [
    "LIKELIHOODS",
    "STAGES",
    "ArcsinhNormalizer",
    "KLDivergenceToPrior",
    "LatentSampler",
    "ModelConfig",
    "PixelGaussianNLL",
    "StageNetworks",
    "build_blend_encoder",
    "build_decoder",
    "build_encoder",
    "build_encoder_decoder",
    "connect",
    "freeze",
    "latent_layer",
    "split_output",
]
