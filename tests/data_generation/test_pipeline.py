"""Data set generation: determinism, round trip, resume, folder safety, noise level."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from data_generation import blends, pipeline
from data_generation.catalog import read_catalogue
from data_generation.config import GenerationConfig
from data_generation.instrument import VISInstrument
from data_generation.manifest import load_manifest
from data_generation.render import StampRenderer
from data_generation.tfrecords import read_numpy


def config_for(catalogue, **overrides):
    values = {
        "kind": "blended",
        "n_stamps": 30,
        "seed": 11,
        "stamp_size": 32,
        "shard_size": 10,
        "catalogue": str(catalogue),
        "annulus_arcsec": (0.5, 1.2),
    }
    values.update(overrides)
    return GenerationConfig(**values)


def shard_bytes(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.glob("shard-*.tfrecord"))}


@pytest.fixture(scope="module")
def reference(egg_catalogue, tmp_path_factory):
    """An uninterrupted 30-blend run."""
    out = tmp_path_factory.mktemp("reference")
    summary = pipeline.generate_dataset(config_for(egg_catalogue), out, progress=False)
    return out, summary


def test_complete_data_set(reference, egg_catalogue):
    out, summary = reference
    manifest = load_manifest(out)
    assert manifest.kind == "blended"
    assert manifest.counts == {"n_examples": 30, "n_shards": 3}
    assert summary.shards_written == 3
    assert len(summary.shard_seconds) == 3
    assert all(seconds > 0 for seconds in summary.shard_seconds)
    assert not (out / pipeline.PROGRESS_NAME).exists()
    assert manifest.config["generation"] == config_for(egg_catalogue).to_dict()
    assert manifest.config["instrument_measured"]["psf_fwhm_arcsec"] == pytest.approx(0.17)
    summary_of_instrument = manifest.instrument_summary()
    assert summary_of_instrument["psf"] == "moffat"
    assert summary_of_instrument["psf_fwhm_arcsec"] == pytest.approx(0.17)
    assert summary_of_instrument["noise_sigma_uJy"] == pytest.approx(0.00277, rel=0.01)
    assert summary_of_instrument["noise_definition"] == "psf-optimal"
    assert [s.catalogue_rows for s in manifest.shards] == [[0, 10], [10, 20], [20, 30]]


def test_stored_examples_are_bit_exact_recomputations(reference, egg_catalogue):
    """Example 0 recomputed by hand from the shard seed equals what was stored, bit for bit."""
    out, _ = reference
    cfg = config_for(egg_catalogue)
    data = read_numpy(out)
    table, _ = read_catalogue(egg_catalogue)
    plan = pipeline.SelectionPlan.build(table, cfg)
    rng = np.random.default_rng(pipeline.shard_seed(cfg.seed, 0))
    central = table.iloc[plan.central_rows[0]].to_dict()
    neighbour_row = plan.neighbour_rows[rng.integers(len(plan.neighbour_rows))]
    instrument = VISInstrument(cfg.instrument)
    example = blends.make_blended_example(
        central,
        table.iloc[neighbour_row].to_dict(),
        StampRenderer(instrument, 32),
        rng,
        instrument.noise_sigma_uJy,
        cfg.annulus_arcsec,
        cfg.max_centre_offset_pix,
    )
    for key, value in example.items():
        np.testing.assert_array_equal(data[key][0], value, err_msg=key)


def test_truth_and_noise(reference, egg_catalogue):
    out, _ = reference
    data = read_numpy(out)
    mags = data["central_mag_vis"]
    assert mags.min() >= 18.0
    assert mags.max() < 25.5
    assert data["neighbour_mag_vis"].max() < 26.5
    assert len(set(data["central_id"])) == 30  # no central galaxy used twice
    assert np.all(data["central_id"] != data["neighbour_id"])
    # noise measured on the stamps (noisy minus noiseless: blank sky) within 2 % of the spec
    sigma = VISInstrument().noise_sigma_uJy
    noise = data["central_noisy"].astype(np.float64) - data["central_noiseless"]
    assert noise.std() == pytest.approx(sigma, rel=0.02)
    np.testing.assert_allclose(data["noise_sigma_uJy"], sigma)


def test_same_seed_same_bytes_other_seed_differs(reference, egg_catalogue, tmp_path):
    out, _ = reference
    pipeline.generate_dataset(config_for(egg_catalogue), tmp_path / "again", progress=False)
    assert shard_bytes(tmp_path / "again") == shard_bytes(out)
    pipeline.generate_dataset(config_for(egg_catalogue, seed=12), tmp_path / "b", progress=False)
    other = shard_bytes(tmp_path / "b")
    assert all(other[name] != data for name, data in shard_bytes(out).items())


def test_resume_after_an_interrupted_run(reference, egg_catalogue, tmp_path, monkeypatch):
    out, _ = reference
    target = tmp_path / "resumed"
    real_write_shard = pipeline.write_shard

    def crash_on_shard_2(index, out_dir):
        if index == 2:
            raise KeyboardInterrupt
        return real_write_shard(index, out_dir)

    monkeypatch.setattr(pipeline, "write_shard", crash_on_shard_2)
    with pytest.raises(KeyboardInterrupt):
        pipeline.generate_dataset(config_for(egg_catalogue), target, progress=False)
    progress = json.loads((target / pipeline.PROGRESS_NAME).read_text())
    assert [s["index"] for s in progress["shards"]] == [0, 1]
    assert not (target / "manifest.json").exists()
    assert not list(target.glob("*.tmp"))

    monkeypatch.setattr(pipeline, "write_shard", real_write_shard)
    summary = pipeline.generate_dataset(config_for(egg_catalogue), target, progress=False)
    assert (summary.shards_reused, summary.shards_written) == (2, 1)
    assert shard_bytes(target) == shard_bytes(out)

    # a complete data set: nothing to do
    again = pipeline.generate_dataset(config_for(egg_catalogue), target, progress=False)
    assert (again.shards_reused, again.shards_written) == (3, 0)


def test_damaged_shard_is_regenerated(reference, egg_catalogue, tmp_path):
    out, _ = reference
    target = tmp_path / "damaged"
    pipeline.generate_dataset(config_for(egg_catalogue), target, progress=False)
    shard = target / "shard-00001-of-00003.tfrecord"
    shard.write_bytes(b"\x00" + shard.read_bytes()[1:])
    summary = pipeline.generate_dataset(config_for(egg_catalogue), target, progress=False)
    assert (summary.shards_reused, summary.shards_written) == (2, 1)
    assert shard_bytes(target) == shard_bytes(out)


def test_other_configuration_is_refused_unless_overwrite(egg_catalogue, tmp_path):
    target = tmp_path / "set"
    pipeline.generate_dataset(config_for(egg_catalogue, n_stamps=10), target, progress=False)
    (target / "my_notes.txt").write_text("keep me")
    changed = config_for(egg_catalogue, n_stamps=10, seed=99)
    with pytest.raises(FileExistsError, match=r"differs in: seed.*--overwrite"):
        pipeline.generate_dataset(changed, target, progress=False)
    pipeline.generate_dataset(changed, target, overwrite=True, progress=False)
    assert load_manifest(target).seed == 99
    assert (target / "my_notes.txt").read_text() == "keep me"


def test_foreign_folder_is_refused(egg_catalogue, tmp_path):
    (tmp_path / "thesis.tex").write_text("precious")
    with pytest.raises(FileExistsError, match="not empty and holds no data set"):
        pipeline.generate_dataset(config_for(egg_catalogue), tmp_path, progress=False)
    assert (tmp_path / "thesis.tex").read_text() == "precious"


def test_changed_catalogue_is_refused_on_resume(egg_catalogue, tmp_path):
    from data_generation.catalog import write_egg_fits
    from tests.data_generation.conftest import egg_columns

    catalogue = tmp_path / "egg.fits"
    write_egg_fits(catalogue, egg_columns(50), ["euclid-vis"], [0.75])
    target = tmp_path / "set"
    cfg = config_for(catalogue, n_stamps=10)
    pipeline._prepare_folder(cfg, target, overwrite=False)
    pipeline._load_or_start_progress(cfg, target)  # started, then "interrupted"
    write_egg_fits(catalogue, egg_columns(60), ["euclid-vis"], [0.75], overwrite=True)
    with pytest.raises(ValueError, match="changed since this data set was started"):
        pipeline.generate_dataset(cfg, target, progress=False)


def test_isolated_kind(egg_catalogue, tmp_path):
    cfg = config_for(egg_catalogue, kind="isolated", n_stamps=12, shard_size=5)
    pipeline.generate_dataset(cfg, tmp_path, progress=False)
    data = read_numpy(tmp_path)
    assert set(data) == {"central_noisy", "central_noiseless"} | {
        k for k in data if k.startswith("central_") or k == "noise_sigma_uJy"
    }
    assert data["central_noisy"].shape == (12, 32, 32)


def test_no_galaxy_in_range(egg_catalogue, tmp_path):
    cfg = config_for(egg_catalogue, central_mag_range=(10.0, 12.0))
    with pytest.raises(ValueError, match=r"central_mag_range 10.0-12.0 \(catalogue spans"):
        pipeline.generate_dataset(cfg, tmp_path, progress=False)


def test_small_catalogue_is_reused_with_a_warning(egg_catalogue, tmp_path, caplog):
    cfg = config_for(egg_catalogue, kind="isolated", central_mag_range=(19.0, 19.2), n_stamps=20)
    summary = pipeline.generate_dataset(cfg, tmp_path, progress=False)
    assert summary.central_reuse > 1
    assert "reused" in caplog.text


def test_bright_neighbours_are_oversampled(egg_catalogue, tmp_path):
    """A bright_neighbour_fraction of the neighbours comes from the bright range; the
    central galaxies are the same as without the option."""
    plain = config_for(egg_catalogue, n_stamps=200, shard_size=100, stamp_size=16)
    bright = dataclasses.replace(
        plain, bright_neighbour_fraction=0.5, bright_neighbour_mag_range=(19.0, 20.0)
    )
    pipeline.generate_dataset(plain, tmp_path / "plain", progress=False)
    pipeline.generate_dataset(bright, tmp_path / "bright", progress=False)
    a, b = read_numpy(tmp_path / "plain"), read_numpy(tmp_path / "bright")
    np.testing.assert_array_equal(a["central_id"], b["central_id"])
    in_range = lambda mags: np.mean((mags >= 19.0) & (mags < 20.0))  # noqa: E731
    # the catalogue is uniform in VIS 19-26.5: 1/7.5 of the neighbours are in 19-20
    assert in_range(a["neighbour_mag_vis"]) < 0.25
    assert 0.45 < in_range(b["neighbour_mag_vis"]) < 0.75
    assert np.all(b["central_id"] != b["neighbour_id"])


def test_bright_neighbours_only_beside_faint_centrals(egg_catalogue, tmp_path):
    cfg = config_for(
        egg_catalogue,
        n_stamps=120,
        shard_size=60,
        stamp_size=16,
        bright_neighbour_fraction=1.0,
        bright_neighbour_mag_range=(19.0, 20.0),
        bright_neighbour_min_central_mag=23.0,
    )
    pipeline.generate_dataset(cfg, tmp_path, progress=False)
    data = read_numpy(tmp_path)
    faint = data["central_mag_vis"] >= 23.0
    neighbour = data["neighbour_mag_vis"]
    assert np.all((neighbour[faint] >= 19.0) & (neighbour[faint] < 20.0))
    # the brighter centrals keep the catalogue's mix (uniform in VIS 19-26.5)
    assert np.mean(neighbour[~faint] >= 20.0) > 0.6


def test_too_few_bright_neighbours(egg_catalogue, tmp_path):
    cfg = config_for(
        egg_catalogue, bright_neighbour_fraction=0.1, bright_neighbour_mag_range=(18.0, 18.5)
    )
    with pytest.raises(ValueError, match="fewer than 2 catalogue galaxies in bright_neighbour"):
        pipeline.generate_dataset(cfg, tmp_path, progress=False)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"kind": "triple"}, "unknown data set kind"),
        ({"bright_neighbour_fraction": -0.1}, r"bright_neighbour_fraction must be in \[0, 1\]"),
        (
            {"kind": "isolated", "bright_neighbour_fraction": 0.2},
            "applies to blends only",
        ),
        (
            {"bright_neighbour_fraction": 0.2, "bright_neighbour_mag_range": (20.0, 27.0)},
            "must lie inside neighbour_mag_range",
        ),
        ({"bright_neighbour_min_central_mag": 24.0}, "needs a bright_neighbour_fraction above 0"),
        (
            {"bright_neighbour_fraction": 0.2, "bright_neighbour_min_central_mag": float("nan")},
            "must be a VIS magnitude or None",
        ),
        ({"n_stamps": 0}, "n_stamps must be a positive integer"),
        ({"central_mag_range": (25.0, 20.0)}, "central_mag_range must be an increasing pair"),
        ({"annulus_arcsec": (-1.0, 1.0)}, "inner radius"),
        ({"stamp_size": 8}, "at least 16 pixels"),
        ({"morphology": "hubble"}, "morphology 'hubble' is not available"),
        ({"cosmos_catalogue": "cosmos.fits"}, "only used with morphology 'realistic'"),
    ],
)
def test_bad_configuration(egg_catalogue, overrides, message):
    with pytest.raises(ValueError, match=message):
        config_for(egg_catalogue, **overrides)


@pytest.mark.parametrize(
    "overrides",
    [{}, {"bright_neighbour_fraction": 0.3, "bright_neighbour_min_central_mag": 23.5}],
)
def test_config_round_trip(egg_catalogue, overrides):
    cfg = config_for(egg_catalogue, **overrides)
    assert GenerationConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
