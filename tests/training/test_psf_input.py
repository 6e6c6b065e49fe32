"""PSF-conditioned deblenders: trained on data sets of several PSFs, told the PSF."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import galsim
import numpy as np
import pytest

from data_generation.combine import CombineInput, combine_data_sets
from data_generation.manifest import load_manifest, save_manifest
from data_generation.tfrecords import read_dataset, read_numpy
from debvader_euclid import Deblender
from debvader_euclid.cli import main
from debvader_euclid.evaluation.report import evaluate
from debvader_euclid.models.config import ModelConfig
from debvader_euclid.models.encoder import build_encoder
from debvader_euclid.training import artifacts, train_deblender, train_vae
from debvader_euclid.training.trainer import copy_encoder_weights

MOFFAT = {"psf_model": "moffat", "psf_fwhm_arcsec": 0.17}
AIRY = {"psf_model": "airy", "psf_fwhm_arcsec": 0.2}
AIRY_PSF = galsim.Convolve(
    galsim.Airy(lam=750, diam=1.2, obscuration=0.36, scale_unit=galsim.arcsec),
    galsim.Gaussian(fwhm=0.15),
)


def _with_instrument(folder: Path, instrument: dict) -> Path:
    """Record a simulated instrument in a synthetic data set's manifest."""
    manifest = load_manifest(folder)
    config = {"generation": {"instrument": instrument}}
    save_manifest(folder, dataclasses.replace(manifest, config=config))
    return folder


@pytest.fixture(scope="module")
def psf_data(tmp_path_factory, write_dataset) -> dict[str, Path]:
    """A Moffat and an Airy blended set (synthetic stamps) and their combination."""
    root = tmp_path_factory.mktemp("psf-input")
    moffat = _with_instrument(write_dataset(root / "moffat", "blended", 160, 4, seed=11), MOFFAT)
    airy = _with_instrument(write_dataset(root / "airy", "blended", 160, 4, seed=12), AIRY)
    combine_data_sets([CombineInput(moffat), CombineInput(airy)], root / "mixed")
    return {"moffat": moffat, "airy": airy, "mixed": root / "mixed"}


def _psf_config(tiny_config, **training):
    config = tiny_config(epochs=1, **training)
    config["model"]["psf_input"] = True
    return config


@pytest.fixture(scope="module")
def psf_deblender(tmp_path_factory, trained_vae, trained_deblender, psf_data, tiny_config) -> Path:
    """A PSF-conditioned deblender fine-tuned from the plain one on both PSFs."""
    out = tmp_path_factory.mktemp("psf-runs") / "psf"
    result = train_deblender(
        trained_vae,
        psf_data["mixed"],
        out,
        config=_psf_config(tiny_config),
        init_encoder=trained_deblender,
        verbose=0,
    )
    assert result.status == "complete"
    return out


def test_the_shard_index_can_be_read_with_each_example(psf_data):
    ds = read_dataset(psf_data["mixed"], fields=["central_mag_vis"], shard_field="shard")
    shards = np.array([int(e["shard"]) for e in ds.as_numpy_iterator()])
    counts = {s.index: s.n_examples for s in load_manifest(psf_data["mixed"]).shards}
    index, n = np.unique(shards, return_counts=True)
    assert dict(zip(index.tolist(), n.tolist(), strict=True)) == counts


def test_model_configurations_without_psf_input_are_unchanged():
    plain = ModelConfig()
    assert not {"psf_input", "psf_radii_pixels", "psf_reference"} & set(plain.to_dict())
    conditioned = ModelConfig(psf_input=True)
    assert len(conditioned.psf_reference) == len(conditioned.psf_radii_pixels)
    # the reference is the default VIS PSF, Moffat 0.17": nearly all its light within 1.2"
    assert 0.99 < conditioned.psf_reference[-1] < 1
    assert ModelConfig.from_dict(conditioned.to_dict()) == conditioned
    with pytest.raises(ValueError, match="one encircled-light fraction per radius"):
        ModelConfig(psf_input=True, psf_reference=(0.5,))
    with pytest.raises(ValueError, match="increasing order"):
        ModelConfig(psf_input=True, psf_radii_pixels=(2.0, 1.0))


def test_a_psf_conditioned_encoder_starts_out_as_the_plain_one(
    tmp_path, trained_vae, trained_deblender, psf_data, tiny_config
):
    out = tmp_path / "start"
    config = _psf_config(tiny_config, learning_rate=1e-12)
    train_deblender(
        trained_vae,
        psf_data["mixed"],
        out,
        config=config,
        init_encoder=trained_deblender,
        verbose=0,
    )
    stamps = read_numpy(psf_data["airy"], fields=["blend_noisy"], max_examples=16)["blend_noisy"]
    plain = Deblender.load(trained_deblender).deblend(stamps)
    started = Deblender.load(out)
    assert started.psf_input
    np.testing.assert_allclose(started.deblend(stamps), plain, rtol=0, atol=1e-6)
    np.testing.assert_allclose(started.deblend(stamps, psf=AIRY_PSF), plain, rtol=0, atol=1e-6)


def test_configurations_without_a_psf_readout_are_unchanged():
    conditioned = ModelConfig(psf_input=True)
    assert "psf_readout_rank" not in conditioned.to_dict()
    with_readout = conditioned.replace(psf_readout_rank=4)
    assert with_readout.to_dict()["psf_readout_rank"] == 4
    assert ModelConfig.from_dict(with_readout.to_dict()) == with_readout
    with pytest.raises(ValueError, match="needs psf_input"):
        ModelConfig(psf_readout_rank=4)
    with pytest.raises(ValueError, match="whole number"):
        ModelConfig(psf_input=True, psf_readout_rank=2.5)
    assert ModelConfig(psf_input=True, psf_readout_rank=np.int64(4)) == with_readout


def test_the_psf_readout_starts_at_zero_and_never_acts_on_the_reference_psf():
    small = {"stamp_size": 16, "filters": (4, 8), "kernel_sizes": (3, 3), "latent_dim": 4}
    film_only = build_encoder(ModelConfig(psf_input=True, **small), seed=1)
    readout = build_encoder(ModelConfig(psf_input=True, psf_readout_rank=3, **small), seed=2)
    copy_encoder_weights(film_only, readout)
    rng = np.random.default_rng(0)
    stamps = rng.normal(size=(5, 16, 16, 1)).astype(np.float32)
    psf = rng.normal(size=(5, 8)).astype(np.float32)
    reference = np.zeros_like(psf)

    def mean(encoder, d):
        return encoder([stamps, d]).mean().numpy()

    np.testing.assert_array_equal(mean(readout, psf), mean(film_only, psf))
    layer = readout.get_layer("psf_readout")
    layer.set_weights([w + 0.1 for w in layer.get_weights()])
    assert np.abs(mean(readout, psf) - mean(film_only, psf)).max() > 1e-3
    np.testing.assert_array_equal(mean(readout, reference), mean(film_only, reference))


def test_a_psf_readout_is_added_to_a_psf_conditioned_deblender_but_not_removed(
    tmp_path, trained_vae, psf_deblender, psf_data, tiny_config
):
    out = tmp_path / "readout"
    config = _psf_config(tiny_config, learning_rate=1e-12)
    config["model"]["psf_readout_rank"] = 4
    train_deblender(
        trained_vae, psf_data["mixed"], out, config=config, init_encoder=psf_deblender, verbose=0
    )
    stamps = read_numpy(psf_data["airy"], fields=["blend_noisy"], max_examples=16)["blend_noisy"]
    before, after = Deblender.load(psf_deblender), Deblender.load(out)
    np.testing.assert_allclose(
        after.deblend(stamps, psf=AIRY_PSF), before.deblend(stamps, psf=AIRY_PSF), atol=1e-6
    )
    with pytest.raises(ValueError, match="without psf_readout_rank cannot start from one with it"):
        train_deblender(
            trained_vae,
            psf_data["mixed"],
            tmp_path / "dropped",
            config=_psf_config(tiny_config),
            init_encoder=out,
            verbose=0,
        )


def test_after_training_the_prediction_depends_on_the_psf(psf_deblender, psf_data):
    provenance = json.loads((psf_deblender / artifacts.PROVENANCE_NAME).read_text())
    assert "init_encoder" in provenance
    deblender = Deblender.load(psf_deblender)
    stamps = read_numpy(psf_data["airy"], fields=["blend_noisy"], max_examples=16)["blend_noisy"]
    default = deblender.deblend(stamps)
    moffat = deblender.deblend(stamps, psf=galsim.Moffat(beta=2.5, fwhm=0.17))
    airy = deblender.deblend(stamps, psf=AIRY_PSF)
    np.testing.assert_allclose(moffat, default, rtol=0, atol=1e-5)  # the reference PSF
    assert np.abs(airy - default).max() > 1e-4
    per_stamp = deblender.deblend(stamps[:2], psf=np.stack([np.ones((9, 9))] * 2))
    np.testing.assert_allclose(per_stamp, deblender.deblend(stamps[:2], psf=np.ones((9, 9))))


def test_evaluation_gives_the_data_sets_psf_or_the_reference(psf_deblender, psf_data, tmp_path):
    given = evaluate(psf_deblender, psf_data["airy"], tmp_path / "data", run_sep=False, n_panels=0)
    assumed = evaluate(
        psf_deblender,
        psf_data["airy"],
        tmp_path / "reference",
        run_sep=False,
        n_panels=0,
        psf="reference",
    )
    info = json.loads((given.out / "evaluation.json").read_text())
    assert info["model"]["psf"] == "data"
    assert json.loads((assumed.out / "evaluation.json").read_text())["model"]["psf"] == "reference"
    a = pd_read(given.out / "predictions.csv")
    b = pd_read(assumed.out / "predictions.csv")
    assert not np.allclose(a, b)
    with pytest.raises(ValueError, match="combined from inputs with different PSFs"):
        evaluate(psf_deblender, psf_data["mixed"], tmp_path / "mixed", run_sep=False, n_panels=0)


def pd_read(path: Path) -> np.ndarray:
    import pandas as pd

    return pd.read_csv(path)["flux_pred_uJy"].to_numpy()


def test_a_plain_deblender_refuses_a_psf(trained_deblender, psf_data, tmp_path, caplog):
    stamps = read_numpy(psf_data["airy"], fields=["blend_noisy"], max_examples=2)["blend_noisy"]
    with pytest.raises(ValueError, match="not trained with PSF input"):
        Deblender.load(trained_deblender).deblend(stamps, psf=AIRY_PSF)
    np.save(tmp_path / "stamps.npy", stamps)
    np.save(tmp_path / "psf.npy", np.ones((9, 9)))
    status = main(
        ["deblend", "--model", str(trained_deblender), "--stamps", str(tmp_path / "stamps.npy"),
         "--out", str(tmp_path / "out"), "--psf", str(tmp_path / "psf.npy"), "--no-quality-flag"]
    )  # fmt: skip
    assert status == 2
    assert "takes no PSF input" in caplog.text


def test_the_deblend_command_gives_the_psf_file(psf_deblender, psf_data, tmp_path):
    stamps = read_numpy(psf_data["airy"], fields=["blend_noisy"], max_examples=4)["blend_noisy"]
    np.save(tmp_path / "stamps.npy", stamps)
    psf = AIRY_PSF.drawImage(nx=32, ny=32, scale=0.1).array
    np.save(tmp_path / "psf.npy", psf)
    status = main(
        ["deblend", "--model", str(psf_deblender), "--stamps", str(tmp_path / "stamps.npy"),
         "--out", str(tmp_path / "out"), "--psf", str(tmp_path / "psf.npy"), "--no-quality-flag"]
    )  # fmt: skip
    assert status == 0
    info = json.loads((tmp_path / "out" / "deblend.json").read_text())
    assert info["psf_file"] == str((tmp_path / "psf.npy").resolve())
    assert "--psf" in info["command_line"]
    expected = Deblender.load(psf_deblender).flux(stamps, psf=psf)
    import pandas as pd

    flux = pd.read_csv(tmp_path / "out" / "catalogue.csv")["flux_uJy"].to_numpy()
    np.testing.assert_allclose(flux, expected, rtol=1e-5)


def test_psf_input_is_refused_where_it_cannot_work(
    tmp_path, trained_vae, psf_deblender, psf_data, isolated_data, tiny_config
):
    with pytest.raises(ValueError, match="psf_input is for the deblender"):
        train_vae(isolated_data, tmp_path / "vae", config=_psf_config(tiny_config), verbose=0)
    with pytest.raises(ValueError, match="cannot be combined"):
        train_deblender(
            trained_vae,
            psf_data["mixed"],
            tmp_path / "latent",
            config=_psf_config(tiny_config, latent_weight=1.0),
            verbose=0,
        )
    with pytest.raises(ValueError, match="a plain deblender cannot start from a PSF-conditioned"):
        train_deblender(
            trained_vae,
            psf_data["mixed"],
            tmp_path / "plain",
            config=tiny_config(epochs=1),
            init_encoder=psf_deblender,
            verbose=0,
        )


def test_training_on_data_without_a_recorded_psf_says_so(
    tmp_path, trained_vae, blended_data, tiny_config
):
    with pytest.raises(ValueError, match="records no instrument"):
        train_deblender(
            trained_vae, blended_data, tmp_path / "x", config=_psf_config(tiny_config), verbose=0
        )
