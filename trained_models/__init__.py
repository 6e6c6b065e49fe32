"""Trained models shipped with debvader_euclid, installed as ``debvader_euclid.trained_models``.

Each model is a folder ``<name>/`` holding ``vae/`` (stage 1) and ``deblender/``
(stage 2) as written by ``debvader-euclid train``, a ``README.md`` with the exact
commands that produced it, and ``SHA256SUMS``. Load one with
``debvader_euclid.Deblender.load("<name>")``.
"""
