"""The flux term of the loss (``flux_weight``) and fine-tuning with ``--init-encoder``."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from data_generation.manifest import load_manifest, manifest_sha256
from debvader_euclid.models import ArcsinhNormalizer, ModelConfig
from debvader_euclid.models.losses import PixelGaussianNLL
from debvader_euclid.training import artifacts, train_deblender
from debvader_euclid.training.config import TrainingConfig


def _stamps(rng: np.random.Generator, n: int = 4, size: int = 16) -> np.ndarray:
    """Positive Gaussian blobs, uJy/pixel, with total fluxes from 0.1 to 10 uJy."""
    y, x = np.mgrid[:size, :size] - size / 2
    profile = np.exp(-(x**2 + y**2) / 8.0)
    profile /= profile.sum()
    fluxes = 10 ** rng.uniform(-1, 1, size=n)
    return (fluxes[:, None, None] * profile).astype(np.float32)


def test_flux_term_is_the_squared_normalised_flux_residual() -> None:
    config = ModelConfig(stamp_size=16, filters=(4, 8), kernel_sizes=(3, 3), latent_dim=2)
    norm = ArcsinhNormalizer(config.normalization_scale)
    truth = _stamps(np.random.default_rng(0))
    scale = np.array([1.0, 1.1, 0.8, 2.0], dtype=np.float32)[:, None, None]
    pred = truth * scale
    y_true = tf.constant(norm.normalize(truth))
    y_pred = tf.constant(norm.normalize(pred)[..., None])
    loss = PixelGaussianNLL(config, flux_weight=250.0)
    expected = 250.0 * (1.0 - scale[:, 0, 0]) ** 2  # r = (F - s F) / F = 1 - s
    np.testing.assert_allclose(loss.flux_term(y_true, y_pred).numpy(), expected, rtol=1e-4)
    np.testing.assert_allclose(
        loss(y_true, y_pred, sample_weight=None).numpy(),
        np.mean(loss.pixel_nll(y_true, y_pred).numpy() + expected),
        rtol=1e-5,
    )
    # flux_weight 0: the pixel likelihood alone, as before the flux term existed
    plain = PixelGaussianNLL(config)
    np.testing.assert_allclose(
        plain.call(y_true, y_pred).numpy(), plain.pixel_nll(y_true, y_pred).numpy()
    )
    # the loss serialises with its weight
    again = PixelGaussianNLL.from_config(loss.get_config())
    assert again.flux_weight == 250.0


def test_symmetric_flux_term_costs_a_factor_k_either_way_the_same() -> None:
    config = ModelConfig(stamp_size=16, filters=(4, 8), kernel_sizes=(3, 3), latent_dim=2)
    norm = ArcsinhNormalizer(config.normalization_scale)
    truth = _stamps(np.random.default_rng(1), n=4)
    scale = np.array([3.0, 1 / 3.0, 1.02, 1.0], dtype=np.float32)[:, None, None]
    y_true = tf.constant(norm.normalize(truth))
    y_pred = tf.constant(norm.normalize(truth * scale)[..., None])
    symmetric = PixelGaussianNLL(config, flux_weight=1.0, flux_residual="symmetric")
    relative = PixelGaussianNLL(config, flux_weight=1.0)
    sym = symmetric.flux_term(y_true, y_pred).numpy()
    rel = relative.flux_term(y_true, y_pred).numpy()
    assert sym[0] == pytest.approx(sym[1], rel=1e-4)  # 3x too bright == 3x too faint
    assert sym[0] == pytest.approx((1 - 3.0) ** 2 / 3.0, rel=1e-4)
    assert rel[0] == pytest.approx(4.0, rel=1e-4)  # the relative form: 4 against 4/9
    assert rel[1] == pytest.approx((2 / 3) ** 2, rel=1e-4)
    assert sym[2] == pytest.approx(rel[2], rel=0.02)  # small errors: the same
    assert sym[3] == pytest.approx(0.0, abs=1e-8)
    assert PixelGaussianNLL.from_config(symmetric.get_config()).flux_residual == "symmetric"
    with pytest.raises(ValueError, match="flux_residual must be"):
        TrainingConfig(flux_residual="log")


def test_flux_term_ignores_targets_without_flux() -> None:
    config = ModelConfig(stamp_size=16, filters=(4, 8), kernel_sizes=(3, 3), latent_dim=2)
    zeros = tf.zeros((2, 16, 16))
    pred = tf.ones((2, 16, 16, 1))
    term = PixelGaussianNLL(config, flux_weight=10.0).flux_term(zeros, pred).numpy()
    np.testing.assert_array_equal(term, 0.0)


@pytest.mark.parametrize("weight", [-1.0, float("nan"), float("inf")])
def test_bad_flux_weight(weight: float) -> None:
    with pytest.raises(ValueError, match="flux_weight must be"):
        TrainingConfig(flux_weight=weight)
    config = ModelConfig(stamp_size=16, filters=(4, 8), kernel_sizes=(3, 3))
    with pytest.raises(ValueError, match="flux_weight must be"):
        PixelGaussianNLL(config, flux_weight=weight)


def test_finetune_starts_from_the_given_encoder_and_records_it(
    tmp_path: Path, trained_vae: Path, trained_deblender: Path, blended_data: Path, tiny_config
) -> None:
    out = tmp_path / "finetuned"
    config = tiny_config(epochs=1, flux_weight=100.0, learning_rate=1e-12)
    result = train_deblender(
        trained_vae, blended_data, out, config=config, init_encoder=trained_deblender, verbose=0
    )
    assert result.status == "complete"
    provenance = json.loads((out / artifacts.PROVENANCE_NAME).read_text())
    start = json.loads((trained_deblender / artifacts.PROVENANCE_NAME).read_text())
    assert provenance["init_encoder"]["files"] == start["files"]
    assert Path(provenance["init_encoder"]["folder"]) == trained_deblender.resolve()
    # a vanishing learning rate leaves the starting weights in place
    tuned, _ = artifacts.load_stage(out, expected_stage="deblender")
    first, _ = artifacts.load_stage(trained_deblender, expected_stage="deblender")
    for a, b in zip(tuned.encoder.get_weights(), first.encoder.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
    with (out / artifacts.HISTORY_NAME).open() as f:
        row = next(csv.DictReader(f))
    assert float(row["flux_term"]) > 0
    assert float(row["val_flux_term"]) > 0


def test_a_second_finetuning_records_the_whole_chain(
    tmp_path: Path, trained_vae: Path, trained_deblender: Path, blended_data: Path, tiny_config
) -> None:
    config = tiny_config(epochs=1, flux_weight=100.0, learning_rate=1e-12)
    first = tmp_path / "first"
    second = tmp_path / "second"
    train_deblender(
        trained_vae, blended_data, first, config=config, init_encoder=trained_deblender, verbose=0
    )
    train_deblender(trained_vae, blended_data, second, config=config, init_encoder=first, verbose=0)
    provenance = json.loads((second / artifacts.PROVENANCE_NAME).read_text())
    start = json.loads((trained_deblender / artifacts.PROVENANCE_NAME).read_text())
    middle = json.loads((first / artifacts.PROVENANCE_NAME).read_text())
    assert Path(provenance["init_encoder"]["folder"]) == first.resolve()
    assert provenance["init_encoder"]["files"] == middle["files"]
    grandparent = provenance["init_encoder"]["init_encoder"]
    assert Path(grandparent["folder"]) == trained_deblender.resolve()
    assert grandparent["files"] == start["files"]
    assert grandparent["data"] == start["data"]
    assert "init_encoder" not in grandparent


def test_evaluation_knows_the_data_of_every_run_in_the_chain(
    tmp_path: Path, trained_vae: Path, trained_deblender: Path, blended_data: Path, tiny_config
) -> None:
    from debvader_euclid.evaluation.predictors import load_predictor

    config = tiny_config(epochs=1, flux_weight=100.0, learning_rate=1e-12)
    finetuned = tmp_path / "finetuned"
    train_deblender(
        trained_vae,
        blended_data,
        finetuned,
        config=config,
        init_encoder=trained_deblender,
        verbose=0,
    )
    # rewrite the fine-tuned run's own data record as if it had trained on another set:
    # the data of the run it started from must still be recognised
    path = finetuned / artifacts.PROVENANCE_NAME
    provenance = json.loads(path.read_text())
    for part in provenance["data"].values():
        part["manifest_sha256"] = part["content_sha256"] = "f" * 64
    path.write_text(json.dumps(provenance))
    predictor = load_predictor(finetuned, "blended")
    by_file, by_content = (
        manifest_sha256(blended_data),
        load_manifest(blended_data).content_sha256(),
    )
    assert predictor.shards_seen_in_training(by_file, by_content, [0, 1, 2, 3]) == [0, 1, 2, 3]
    assert predictor.shards_seen_in_training("f" * 64, "0" * 64, [0]) == [0]
    assert predictor.shards_seen_in_training("0" * 64, "0" * 64, [0]) == []


def test_finetune_refuses_another_architecture(
    tmp_path: Path, trained_vae: Path, trained_deblender: Path, blended_data: Path, tiny_config
) -> None:
    config = tiny_config(epochs=1)
    config["model"] = {"encoder_filters": [8, 8]}
    with pytest.raises(ValueError, match="model configuration differs .* encoder_filters"):
        train_deblender(
            trained_vae,
            blended_data,
            tmp_path / "x",
            config=config,
            init_encoder=trained_deblender,
            verbose=0,
        )
    assert not (tmp_path / "x").exists()


def test_finetune_refuses_a_deblender_of_another_decoder(trained_deblender: Path) -> None:
    from debvader_euclid.training.trainer import _check_init_encoder

    _, info = artifacts.load_stage(trained_deblender, expected_stage="deblender")
    other_vae = {"files": {artifacts.DECODER_WEIGHTS: "0" * 64}}
    with pytest.raises(ValueError, match="another stage-1 decoder"):
        _check_init_encoder(trained_deblender, info["model"], other_vae)


def test_init_encoder_is_for_the_deblender_only(
    isolated_data: Path, trained_deblender: Path, tmp_path: Path, tiny_config
) -> None:
    from debvader_euclid.cli import build_parser
    from debvader_euclid.training import train_vae
    from debvader_euclid.training.command import command_line

    parser = build_parser()
    args = parser.parse_args(
        ["train", "deblender", "--vae", "v", "--init-encoder", "d", "--data", "b", "--out", "o"]
    )
    assert command_line(args)[3:7] == ["--vae", "v", "--init-encoder", "d"]
    with pytest.raises(SystemExit):
        parser.parse_args(["train", "vae", "--init-encoder", "d", "--data", "i", "--out", "o"])
    with pytest.raises(ValueError, match="deblender stage only"):
        train_vae(
            isolated_data,
            tmp_path / "v",
            config=tiny_config(epochs=1),
            init_encoder=trained_deblender,
            verbose=0,
        )


def test_held_out_shards_of_a_training_set_count_as_unseen(
    tmp_path: Path, trained_deblender: Path, blended_data: Path
) -> None:
    import shutil

    from debvader_euclid.evaluation.predictors import load_predictor

    model = tmp_path / "deblender"
    shutil.copytree(trained_deblender, model)
    path = model / artifacts.PROVENANCE_NAME
    provenance = json.loads(path.read_text())
    provenance["data"]["train"]["shards"] = [0, 1]  # as if shard 3 had been left out
    provenance["data"]["validation"]["shards"] = [2]
    path.write_text(json.dumps(provenance))
    predictor = load_predictor(model, "blended")
    manifest = load_manifest(blended_data)
    by_file, by_content = manifest_sha256(blended_data), manifest.content_sha256()
    assert predictor.shards_seen_in_training(by_file, by_content, [0, 1, 2, 3]) == [0, 1, 2]
    assert predictor.shards_seen_in_training(by_file, by_content, [3]) == []
    # the same data written again (another manifest file): recognised by its content
    assert predictor.shards_seen_in_training("0" * 64, by_content, [1, 3]) == [1]
    assert predictor.shards_seen_in_training("0" * 64, "0" * 64, [0, 1, 2, 3]) == []
