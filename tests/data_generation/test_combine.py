"""`debvader-euclid combine`: mixtures of data sets for training."""

from __future__ import annotations

import logging
import os

import numpy as np
import pytest

from data_generation.combine import CombineInput, combine_data_sets, interleaved_order
from data_generation.describe import describe_dataset
from data_generation.manifest import load_manifest, require_complete
from data_generation.tfrecords import read_numpy
from debvader_euclid.cli import main
from debvader_euclid.evaluation.report import dataset_name


def _generate(out, catalogue, n, seed, *extra):
    status = main(
        ["generate", "--kind", "blended", "--out", str(out), "--catalogue", str(catalogue),
         "--stamp-size", "32", "--workers", "1", "--no-progress", "--n-stamps", str(n),
         "--shard-size", "2", "--seed", str(seed), *extra]
    )  # fmt: skip
    assert status == 0
    return out


@pytest.fixture(scope="module")
def two_psfs(egg_catalogue, tmp_path_factory):
    """Six Moffat blends in 3 shards and two Airy blends of FWHM 0.2 arcsec in one."""
    root = tmp_path_factory.mktemp("combine")
    moffat = _generate(root / "moffat", egg_catalogue, 6, 1)
    airy = _generate(root / "airy", egg_catalogue, 2, 2, "--psf-model", "airy", "--psf-fwhm", "0.2")
    return moffat, airy


def test_interleaving_is_proportional():
    order = interleaved_order([6, 2])
    assert sorted(order) == [(0, k) for k in range(6)] + [(1, 0), (1, 1)]
    # the last quarter (what training holds out) holds one shard of each input
    assert {p for p, _ in order[-2:]} == {0, 1}


def test_combined_data_set_keeps_every_example(two_psfs, tmp_path, caplog):
    moffat, airy = two_psfs
    with caplog.at_level(logging.INFO):
        status = main(["combine", "--input", str(moffat), "--input", str(airy),
                       "--out", str(tmp_path / "mix")])  # fmt: skip
    assert status == 0
    assert "8 examples in 4 shards (4 linked)" in caplog.text
    manifest = load_manifest(tmp_path / "mix")
    require_complete(tmp_path / "mix", manifest, check_sha256=True)
    assert manifest.counts == {"n_examples": 8, "n_shards": 4}
    assert manifest.seed == -1
    # the pixels are those of the inputs, shard for shard
    mixed = read_numpy(tmp_path / "mix", fields=["blend_noisy", "noise_sigma_uJy"])
    originals = np.concatenate(
        [read_numpy(d, fields=["blend_noisy"])["blend_noisy"] for d in two_psfs]
    )
    assert sorted(map(bytes, mixed["blend_noisy"])) == sorted(map(bytes, originals))
    assert len(set(mixed["noise_sigma_uJy"].tolist())) == 2
    parts = manifest.config["combined_from"]
    assert [len(p["shards"]) for p in parts] == [3, 1]
    assert manifest.config["generation"]["annulus_arcsec"] == [0.3, 1.6]
    assert "instrument" not in manifest.config["generation"]  # differs between the inputs
    summary = manifest.instrument_summary()
    assert summary["psf"].startswith("mixture: ")
    assert 'airy 0.2"' in summary["psf"]
    assert 'moffat 0.17"' in summary["psf"]
    assert summary["noise_sigma_uJy"] is None
    assert summary["mag_limit"] == 27.1
    assert dataset_name(manifest) == "analytic"
    text = "\n".join(describe_dataset(tmp_path / "mix"))
    assert "combined from 2 inputs" in text
    assert 'PSF airy 0.2" (FWHM in arcsec)' in text
    assert "seeds of the inputs below" in text


def test_shard_selection_and_copies_when_links_fail(two_psfs, tmp_path, monkeypatch):
    moffat, airy = two_psfs

    def no_links(*args):
        raise OSError("cross-device link")

    monkeypatch.setattr(os, "link", no_links)
    manifest = combine_data_sets(
        [CombineInput.parse(f"{moffat}:0,2"), CombineInput(airy)], tmp_path / "mix"
    )
    assert manifest.counts == {"n_examples": 6, "n_shards": 3}
    assert [p["shards"] for p in manifest.config["combined_from"]][0] == [[0, 0], [2, 2]]
    require_complete(tmp_path / "mix", manifest, check_sha256=True)


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        (lambda m, a: [CombineInput(m)], "at least two inputs"),
        (lambda m, a: [CombineInput(m, (0, 7)), CombineInput(a)], "has no shard(s) 7"),
        (lambda m, a: [CombineInput(m, (0, 1)), CombineInput(m, (1,))], "shard 1 of"),
    ],
)
def test_bad_inputs_are_named(two_psfs, tmp_path, inputs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        combine_data_sets(inputs(*two_psfs), tmp_path / "mix")
    assert not (tmp_path / "mix").exists()


def test_a_combined_set_is_not_an_input(two_psfs, tmp_path):
    combine_data_sets([CombineInput(d) for d in two_psfs], tmp_path / "mix")
    with pytest.raises(ValueError, match="itself a combined data set: give its inputs"):
        combine_data_sets(
            [CombineInput(tmp_path / "mix"), CombineInput(two_psfs[0])], tmp_path / "again"
        )


def test_kinds_must_match(two_psfs, egg_catalogue, tmp_path):
    isolated = tmp_path / "isolated"
    status = main(
        ["generate", "--kind", "isolated", "--out", str(isolated), "--catalogue",
         str(egg_catalogue), "--stamp-size", "32", "--workers", "1", "--no-progress",
         "--n-stamps", "2"]
    )  # fmt: skip
    assert status == 0
    with pytest.raises(ValueError, match="inputs differ in kind"):
        combine_data_sets([CombineInput(two_psfs[0]), CombineInput(isolated)], tmp_path / "mix")


def test_existing_output_is_kept_without_overwrite(two_psfs, tmp_path, caplog):
    out = tmp_path / "mix"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    args = ["combine", "--input", str(two_psfs[0]), "--input", str(two_psfs[1]), "--out", str(out)]
    assert main(args) == 2
    assert "--overwrite" in caplog.text
    assert main([*args, "--overwrite"]) == 0
    assert (out / "notes.txt").read_text() == "mine"
    assert load_manifest(out).counts["n_examples"] == 8


def test_training_and_evaluation_trace_shards_back_to_the_inputs(two_psfs, tmp_path):
    from debvader_euclid.evaluation.predictors import Predictor
    from debvader_euclid.training.data import split_data

    moffat, airy = two_psfs
    combine_data_sets([CombineInput(moffat), CombineInput(airy)], tmp_path / "mix")
    split = split_data("deblender", tmp_path / "mix", val_fraction=0.25)
    train, validation = split.train.provenance(), split.validation.provenance()
    # the last of the 4 interleaved shards (held out) is the Moffat input's shard 2
    assert [p["shards"] for p in validation["combined_from"]] == [[2], []]
    assert [p["shards"] for p in train["combined_from"]] == [[0, 1], [0]]
    predictor = Predictor(
        "deblender",
        tmp_path,
        32,
        {"provenance": {"data": {"train": train, "validation": validation}}},
        lambda images, batch, sigma: images,
    )
    moffat_manifest = load_manifest(moffat)
    seen = predictor.shards_seen_in_training(
        "not the file", moffat_manifest.content_sha256(), [0, 1, 2]
    )
    assert seen == [0, 1, 2]
    airy_manifest = load_manifest(airy)
    assert predictor.shards_seen_in_training("x", airy_manifest.content_sha256(), [0]) == [0]
    assert predictor.shards_seen_in_training("x", "another data set", [0, 1]) == []
