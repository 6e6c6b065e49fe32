"""Latent matching: teach the blend encoder where the stage-1 encoder puts a galaxy.

Stage 2 trains the blend encoder through the frozen decoder with the pixel
likelihood (and the flux term) alone. Given the *isolated* noisy central galaxy,
the stage-1 encoder finds the latent point that decodes to a bright galaxy's flux
much more precisely than the blend encoder finds it from the blend: the decoder can
draw the galaxy better than the blend encoder learns to ask it to. This term shows
the blend encoder where the stage-1 encoder puts the galaxy (what it achieved:
``configs/README.md``, "Latent matching and ensembles").

With ``TrainingConfig.latent_weight = mu > 0`` each training example also
costs

.. math::

    \\mu \\, \\frac{1}{2} \\sum_k \\frac{(m_k - t_k)^2}{s_k^2 + \\tau^2}

with ``m`` the blend encoder's posterior mean for the blend, and ``t``, ``s`` the
posterior mean and standard deviation (the square roots of the diagonal of the
covariance) of the frozen stage-1 encoder for the same central galaxy without its
neighbour, with the blend's own noise. ``tau`` (``TrainingConfig.latent_std_floor``,
latent units) keeps the dimensions the stage-1 encoder pins down very tightly (``s``
of a few hundredths for a bright galaxy) from taking over: with ``tau = 0`` the terms
of a few bright galaxies swamp the rest and the fine-tuning is unstable
(``configs/README.md``). No gradient flows into the stage-1 encoder.

:func:`connect_with_latent_matching` builds the training model: inputs
``(blend, central)`` (normalised stamps), output the decoder's output for the
blend, as in :func:`debvader_euclid.models.vae.connect`; the term enters the
model losses through :class:`LatentMatchingLoss`, an endpoint layer that passes
the decoder output through unchanged. Only the blend encoder's and decoder's
weights are ever saved, so a trained deblender is loaded as any other.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
import tf_keras as keras

tfb = tfp.bijectors

#: Name of the encoder layer whose output is the latent distribution's parameters.
LATENT_PARAMS_LAYER = "latent_params"

#: ``diag_shift`` of :class:`tfp.layers.MultivariateNormalTriL`'s scale bijector.
_DIAG_SHIFT = 1e-5


def posterior_mean_and_std(params: tf.Tensor, latent_dim: int) -> tuple[tf.Tensor, tf.Tensor]:
    """Mean and marginal standard deviations of a ``MultivariateNormalTriL`` layer.

    Parameters
    ----------
    params : tf.Tensor
        ``(B, latent_dim + latent_dim (latent_dim + 1) / 2)`` the input of the
        :class:`tfp.layers.MultivariateNormalTriL` layer (``loc``, then the packed
        lower-triangular scale).
    latent_dim : int

    Returns
    -------
    mean, std : tf.Tensor
        Both ``(B, latent_dim)``; ``std_k = sqrt((L L^T)_kk)``.
    """
    mean = params[..., :latent_dim]
    scale_tril = tfb.FillScaleTriL(diag_shift=np.float32(_DIAG_SHIFT))(params[..., latent_dim:])
    std = tf.sqrt(tf.reduce_sum(tf.square(scale_tril), axis=-1))
    return mean, std


class LatentMatchingLoss(keras.layers.Layer):
    """Endpoint layer adding the latent-matching term to the model losses.

    Called on ``[output, student_params, teacher_params]``, it adds
    ``weight * mean_batch(0.5 * sum_k (m_k - t_k)**2 / (s_k**2 + std_floor**2))``
    (module docstring), records it as the metric ``latent_term`` and returns
    ``output`` unchanged.

    Parameters
    ----------
    latent_dim : int
        Size of the latent space.
    weight : float
        ``mu`` >= 0.
    std_floor : float
        ``tau`` >= 0, latent units.
    """

    def __init__(self, latent_dim: int, weight: float, std_floor: float = 0.0, **kwargs) -> None:
        super().__init__(**kwargs)
        if not (np.isfinite(weight) and weight >= 0):
            raise ValueError(f"latent-matching weight must be a finite number >= 0, got {weight}")
        if not (np.isfinite(std_floor) and std_floor >= 0):
            raise ValueError(f"latent std floor must be a finite number >= 0, got {std_floor}")
        self.latent_dim = int(latent_dim)
        self.weight = float(weight)
        self.std_floor = float(std_floor)

    def call(self, inputs: list[tf.Tensor]) -> tf.Tensor:
        output, student_params, teacher_params = inputs
        student_mean = student_params[..., : self.latent_dim]
        teacher_mean, teacher_std = posterior_mean_and_std(
            tf.stop_gradient(teacher_params), self.latent_dim
        )
        variance = tf.square(teacher_std) + self.std_floor**2
        chi2 = tf.reduce_sum(tf.square(student_mean - teacher_mean) / variance, axis=-1)
        term = self.weight * 0.5 * tf.reduce_mean(chi2)
        self.add_loss(term)
        self.add_metric(term, name="latent_term")
        return output

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "latent_dim": self.latent_dim,
            "weight": self.weight,
            "std_floor": self.std_floor,
        }


def connect_with_latent_matching(
    encoder: keras.Model,
    decoder: keras.Model,
    teacher: keras.Model,
    latent_dim: int,
    weight: float,
    std_floor: float = 0.0,
    name: str = "deblender",
) -> keras.Model:
    """The stage-2 training model with the latent-matching term.

    Parameters
    ----------
    encoder : tf_keras.Model
        The blend encoder being trained.
    decoder : tf_keras.Model
        The frozen stage-1 decoder.
    teacher : tf_keras.Model
        The stage-1 encoder; frozen here (it is not trained, nothing of it is saved).
    latent_dim : int
    weight : float
        ``mu`` (:attr:`TrainingConfig.latent_weight
        <debvader_euclid.training.config.TrainingConfig>`).
    std_floor : float
        ``tau`` (:attr:`TrainingConfig.latent_std_floor
        <debvader_euclid.training.config.TrainingConfig>`), latent units.
    name : str

    Returns
    -------
    tf_keras.Model
        Inputs ``(blend, central)``, both ``(B, S, S, 1)`` normalised stamps; output
        the raw decoder parameters for the blend, as
        :func:`debvader_euclid.models.vae.connect`. ``model.losses`` holds the
        encoder's KL term and the latent-matching term.
    """
    teacher.trainable = False
    shape = encoder.input_shape[1:]
    blend = keras.Input(shape=shape, name="stamp")
    central = keras.Input(shape=shape, name="central_stamp")
    student_view = keras.Model(
        encoder.input,
        [encoder.output, encoder.get_layer(LATENT_PARAMS_LAYER).output],
        name=f"{encoder.name}_with_params",
    )
    teacher_view = keras.Model(
        teacher.input, teacher.get_layer(LATENT_PARAMS_LAYER).output, name="teacher_params"
    )
    teacher_view.trainable = False
    latent, student_params = student_view(blend)
    output = decoder(latent)
    output = LatentMatchingLoss(latent_dim, weight, std_floor, name="latent_matching")(
        [output, student_params, teacher_view(central)]
    )
    return keras.Model([blend, central], output, name=name)
