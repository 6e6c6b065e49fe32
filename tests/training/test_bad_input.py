"""Bad input is refused with a clear message before any training starts; the CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from data_generation.manifest import load_manifest, manifest_sha256, save_manifest
from debvader_euclid import cli
from debvader_euclid.training import artifacts, train_deblender, train_vae
from debvader_euclid.training.command import command_line


@pytest.fixture
def main(monkeypatch):
    """``cli.main`` with the training subcommands registered."""
    modules = tuple(cli.SUBCOMMAND_MODULES)
    if "debvader_euclid.training.command" not in modules:
        modules += ("debvader_euclid.training.command",)
    monkeypatch.setattr(cli, "SUBCOMMAND_MODULES", modules)
    return cli.main


@pytest.fixture
def config_file(tmp_path: Path, tiny_config) -> Path:
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(tiny_config(epochs=1)))
    return path


@pytest.fixture(scope="module")
def small_blended(tmp_path_factory, write_dataset) -> Path:
    """Blended 16x16 stamps: a stamp size the 32-pixel VAE does not know."""
    return write_dataset(tmp_path_factory.mktemp("small"), "blended", 16, 2, size=16, seed=9)


def assert_nothing_trained(out: Path) -> None:
    assert not out.exists() or not any(out.iterdir())


def test_missing_data_folder(tmp_path: Path, main, config_file: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(FileNotFoundError, match="does not exist"):
        train_vae(tmp_path / "nowhere", out)
    status = main(
        [
            "train",
            "vae",
            "--data",
            str(tmp_path / "nowhere"),
            "--out",
            str(out),
            "--config",
            str(config_file),
        ]
    )
    assert status == 2
    assert_nothing_trained(out)


def test_folder_without_manifest(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="manifest"):
        train_vae(tmp_path / "empty", tmp_path / "out")
    assert_nothing_trained(tmp_path / "out")


def test_blended_data_to_stage_1(blended_data: Path, tmp_path: Path, tiny_config) -> None:
    with pytest.raises(ValueError, match="'blended' data set.*train deblender"):
        train_vae(blended_data, tmp_path / "out", config=tiny_config())
    assert_nothing_trained(tmp_path / "out")


def test_isolated_data_to_stage_2(trained_vae: Path, isolated_data: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="'isolated' data set.*train vae"):
        train_deblender(trained_vae, isolated_data, tmp_path / "out")
    assert_nothing_trained(tmp_path / "out")


def test_stamp_size_mismatch_config_and_data(
    isolated_data: Path, tmp_path: Path, tiny_config
) -> None:
    config = tiny_config()
    config["model"]["stamp_size"] = 64
    with pytest.raises(ValueError, match="stamp-size mismatch.*stamp_size=64.*32x32"):
        train_vae(isolated_data, tmp_path / "out", config=config)
    assert_nothing_trained(tmp_path / "out")


def test_stamp_size_mismatch_vae_and_data(
    trained_vae: Path, small_blended: Path, tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match="stamp-size mismatch.*32-pixel.*16-pixel"):
        train_deblender(trained_vae, small_blended, tmp_path / "out")
    assert_nothing_trained(tmp_path / "out")


def test_stamp_size_mismatch_train_and_validation(
    blended_data: Path, small_blended: Path, trained_vae: Path, tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match="stamp-size mismatch"):
        train_deblender(trained_vae, blended_data, tmp_path / "out", val_data=small_blended)


def test_unfinished_stage_1_folder(
    trained_vae: Path, blended_data: Path, tmp_path: Path, main
) -> None:
    unfinished = tmp_path / "vae"
    unfinished.mkdir()
    for name in (artifacts.CONFIG_NAME, *artifacts.WEIGHT_FILES):
        (unfinished / name).write_bytes((trained_vae / name).read_bytes())
    artifacts.write_provenance(unfinished, {"status": "running"})
    out = tmp_path / "out"
    with pytest.raises(ValueError, match="unfinished vae training folder.*--resume"):
        train_deblender(unfinished, blended_data, out)
    status = main(
        [
            "train",
            "deblender",
            "--vae",
            str(unfinished),
            "--data",
            str(blended_data),
            "--out",
            str(out),
        ]
    )
    assert status == 2
    assert_nothing_trained(out)


def test_missing_or_wrong_stage_1_folder(
    blended_data: Path, trained_vae: Path, tmp_path: Path
) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        train_deblender(tmp_path / "nowhere", blended_data, tmp_path / "out")
    with pytest.raises(FileNotFoundError, match="not a training output folder"):
        train_deblender(blended_data, blended_data, tmp_path / "out")
    tampered = tmp_path / "tampered"
    tampered.mkdir()
    for path in trained_vae.iterdir():
        if path.is_file():
            (tampered / path.name).write_bytes(path.read_bytes())
    with open(tampered / "decoder.h5", "ab") as handle:
        handle.write(b"\0")
    with pytest.raises(ValueError, match="does not match the SHA-256"):
        train_deblender(tampered, blended_data, tmp_path / "out")
    assert_nothing_trained(tmp_path / "out")


def test_validation_data_identical_to_training_data(isolated_data: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="is the training data set itself"):
        train_vae(isolated_data, tmp_path / "out", val_data=isolated_data)
    assert_nothing_trained(tmp_path / "out")


def _regenerated_copy(data: Path, tmp_path: Path) -> Path:
    """The same shards written again on another day: another manifest file, same content."""
    copy = tmp_path / "regenerated"
    shutil.copytree(data, copy)
    manifest = load_manifest(copy)
    manifest.created_utc = "2031-01-01T00:00:00+00:00"
    save_manifest(copy, manifest)
    assert manifest_sha256(copy) != manifest_sha256(data)
    return copy


def test_validation_data_regenerated_from_the_training_data(
    isolated_data: Path, tmp_path: Path
) -> None:
    copy = _regenerated_copy(isolated_data, tmp_path)
    with pytest.raises(ValueError, match="is the training data set itself"):
        train_vae(isolated_data, tmp_path / "out", val_data=copy)
    assert_nothing_trained(tmp_path / "out")


def test_resume_accepts_the_training_data_regenerated(
    isolated_data: Path, trained_vae: Path, tmp_path: Path, write_dataset
) -> None:
    from debvader_euclid.training.data import split_data
    from debvader_euclid.training.trainer import _prepare_output

    copy = _regenerated_copy(isolated_data, tmp_path)
    stage, model, training = artifacts.read_config(trained_vae)
    # the same content under another manifest file: accepted
    _prepare_output(trained_vae, stage, model, training, split_data(stage, copy), True, False)
    other = write_dataset(tmp_path / "other", "isolated", 16, 2, seed=11)
    with pytest.raises(ValueError, match="not the data set the run started with.*content SHA"):
        _prepare_output(trained_vae, stage, model, training, split_data(stage, other), True, False)


def test_single_shard_without_validation_data(tmp_path: Path, tiny_config, write_dataset) -> None:
    single = write_dataset(tmp_path / "one", "isolated", 8, 1, seed=4)
    with pytest.raises(ValueError, match="single shard.*--val-data"):
        train_vae(single, tmp_path / "out", config=tiny_config())
    assert_nothing_trained(tmp_path / "out")


def test_non_empty_output_and_resume_mismatch(
    isolated_data: Path, trained_vae: Path, tmp_path: Path, tiny_config, write_dataset
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not empty.*--resume.*--overwrite"):
        train_vae(isolated_data, out, config=tiny_config())
    with pytest.raises(FileExistsError, match="refusing to --overwrite"):
        train_vae(isolated_data, out, config=tiny_config(), overwrite=True)
    assert (out / "notes.txt").read_text() == "mine"
    with pytest.raises(ValueError, match="configuration differs"):
        train_vae(isolated_data, trained_vae, config=tiny_config(epochs=9), resume=True)
    other = write_dataset(tmp_path / "other", "isolated", 16, 2, seed=11)
    with pytest.raises(ValueError, match="not the data set the run started with"):
        train_vae(other, trained_vae, resume=True, val_data=isolated_data)


def test_bad_configuration(isolated_data: Path, tmp_path: Path, main) -> None:
    config = tmp_path / "bad.json"
    config.write_text(json.dumps({"model": {"latent_size": 4}}))
    with pytest.raises(ValueError, match="unknown key.*'latent_size'.*latent_dim"):
        train_vae(isolated_data, tmp_path / "out", config=config)
    config.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        train_vae(isolated_data, tmp_path / "out", config=config)
    with pytest.raises(FileNotFoundError, match="configuration file"):
        train_vae(isolated_data, tmp_path / "out", config=tmp_path / "missing.json")
    config.write_text(json.dumps({"training": {"epochs": 0}}))
    status = main(
        [
            "train",
            "vae",
            "--data",
            str(isolated_data),
            "--out",
            str(tmp_path / "out"),
            "--config",
            str(config),
        ]
    )
    assert status == 2
    assert_nothing_trained(tmp_path / "out")


def test_stage_2_config_may_not_change_the_architecture(
    trained_vae: Path, blended_data: Path, tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match="may not change model.latent_dim"):
        train_deblender(
            trained_vae, blended_data, tmp_path / "out", config={"model": {"latent_dim": 3}}
        )
    assert_nothing_trained(tmp_path / "out")


def test_cli_trains_both_stages(
    isolated_data: Path, blended_data: Path, config_file: Path, tmp_path: Path, main
) -> None:
    vae, deblender = tmp_path / "vae", tmp_path / "deblender"
    argv = [
        "train",
        "vae",
        "--data",
        str(isolated_data),
        "--out",
        str(vae),
        "--config",
        str(config_file),
        "--progress",
        "none",
    ]
    assert main(argv) == 0
    provenance = json.loads((vae / "provenance.json").read_text())
    assert provenance["command_line"][:3] == ["debvader-euclid", "train", "vae"]
    assert main(argv) == 2  # --out is no longer empty
    assert main([*argv, "--resume"]) == 0  # already complete: nothing to do
    assert (
        main(
            [
                "train",
                "deblender",
                "--vae",
                str(vae),
                "--data",
                str(blended_data),
                "--out",
                str(deblender),
                "--config",
                str(config_file),
                "--progress",
                "none",
            ]
        )
        == 0
    )
    assert json.loads((deblender / "provenance.json").read_text())["status"] == "complete"


def test_command_line_round_trip() -> None:
    parser = cli.argparse.ArgumentParser()
    from debvader_euclid.training import command

    command.register(parser.add_subparsers(dest="command"))
    argv = ["train", "deblender", "--vae", "v", "--data", "d", "--out", "o", "--resume"]
    assert command_line(parser.parse_args(argv)) == ["debvader-euclid", *argv]
