"""End-to-end training of tiny networks on synthetic stamps: both stages, resume, artefacts."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import tf_keras as keras

from data_generation.io_utils import sha256_file
from data_generation.manifest import manifest_sha256
from data_generation.tfrecords import read_numpy
from debvader_euclid.training import artifacts, load_stage, train_deblender, train_vae
from debvader_euclid.training.trainer import HISTORY_COLUMNS


class WeightsAtEnd(keras.callbacks.Callback):
    """Record the weights of every sub-model when training ends."""

    def __init__(self) -> None:
        super().__init__()
        self.weights: dict[str, list[np.ndarray]] = {}

    def on_train_end(self, logs=None) -> None:
        for layer in self.model.layers:
            if isinstance(layer, keras.Model):
                self.weights[layer.name] = [w.copy() for w in layer.get_weights()]


class InterruptAfterEpoch(keras.callbacks.Callback):
    """Simulate Ctrl-C once epoch ``epoch`` (1-based) has been checkpointed."""

    def __init__(self, epoch: int) -> None:
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None) -> None:
        if epoch + 1 == self.epoch:
            raise KeyboardInterrupt


def assert_same_weights(a: list[np.ndarray], b: list[np.ndarray]) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert x.tobytes() == y.tobytes()


def test_vae_trains_and_writes_its_folder(trained_vae: Path, isolated_data: Path) -> None:
    provenance = json.loads((trained_vae / artifacts.PROVENANCE_NAME).read_text())
    assert provenance["status"] == "complete"
    assert provenance["data"]["train"]["manifest_sha256"] == manifest_sha256(isolated_data)
    assert provenance["data"]["train"]["shards"] == [0, 1, 2]
    assert provenance["data"]["validation"]["shards"] == [3]
    assert provenance["command_line"]
    assert {"tensorflow", "tf-keras", "tensorflow-probability"} <= set(provenance["software"])
    for name in artifacts.WEIGHT_FILES:
        assert provenance["files"][name] == sha256_file(trained_vae / name)

    config = json.loads((trained_vae / artifacts.CONFIG_NAME).read_text())
    assert config["stage"] == "vae"
    assert config["model"]["stamp_size"] == 32  # taken from the data
    assert config["model"]["filters"] == [8, 16]

    with open(trained_vae / artifacts.HISTORY_NAME) as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == list(HISTORY_COLUMNS)
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    val_loss = [float(r["val_loss"]) for r in rows]
    assert val_loss[-1] < 0.9 * val_loss[0], val_loss  # it learns
    assert provenance["best_epoch"] == int(np.argmin(val_loss)) + 1

    assert list((trained_vae / artifacts.LOG_DIR).rglob("events.out.tfevents.*"))
    assert (trained_vae / artifacts.CHECKPOINT_DIR / "state.json").is_file()
    assert not list(trained_vae.rglob("*.tmp"))


def test_load_stage_predicts_identically_and_resaves_identical_bytes(
    trained_vae: Path, isolated_data: Path, tmp_path: Path
) -> None:
    stamps = read_numpy(isolated_data, fields=["central_noisy"], max_examples=16)["central_noisy"]
    first, info = load_stage(trained_vae, expected_stage="vae")
    assert info["model"].stamp_size == 32
    prediction = first.predict(stamps, batch_size=5)
    assert prediction.shape == (16, 32, 32)
    assert prediction.dtype == np.float32

    # save -> load -> identical predictions, and the weight files are byte-identical
    for name, net in (("encoder.h5", first.encoder), ("decoder.h5", first.decoder)):
        artifacts.save_weights_atomic(net, tmp_path / name)
        assert sha256_file(tmp_path / name) == sha256_file(trained_vae / name)
    again = artifacts.load_networks(tmp_path, "vae", info["model"])
    np.testing.assert_array_equal(again.predict(stamps, batch_size=5), prediction)
    # other batch sizes take other oneDNN code paths: equal to float32 rounding only
    np.testing.assert_allclose(again.predict(stamps), prediction, rtol=1e-5, atol=1e-9)


def test_deblender_keeps_the_decoder_bit_identical(
    trained_vae: Path, blended_data: Path, tmp_path: Path, tiny_config
) -> None:
    out = tmp_path / "deblender"
    end = WeightsAtEnd()
    result = train_deblender(
        trained_vae, blended_data, out, config=tiny_config(epochs=2), callbacks=[end], verbose=0
    )
    assert result.status == "complete"
    vae, _ = load_stage(trained_vae)
    assert set(end.weights) == {"blend_encoder", "decoder"}
    assert_same_weights(end.weights["decoder"], vae.decoder.get_weights())
    # the decoder saved with the deblender is the very file of stage 1
    assert sha256_file(out / "decoder.h5") == sha256_file(trained_vae / "decoder.h5")
    deblender, info = load_stage(out, expected_stage="deblender")
    assert info["provenance"]["vae"]["files"]["decoder.h5"] == sha256_file(out / "decoder.h5")
    # the blend encoder was trained from a fresh initialisation
    assert not all(
        np.array_equal(a, b)
        for a, b in zip(deblender.encoder.get_weights(), vae.encoder.get_weights(), strict=True)
    )


def test_resume_ends_where_an_uninterrupted_run_ends(
    isolated_data: Path, tmp_path: Path, tiny_config
) -> None:
    config = tiny_config(epochs=3)
    straight, resumed = WeightsAtEnd(), WeightsAtEnd()
    full = train_vae(
        isolated_data, tmp_path / "full", config=config, callbacks=[straight], verbose=0
    )

    with pytest.raises(KeyboardInterrupt):
        train_vae(
            isolated_data,
            tmp_path / "cut",
            config=config,
            callbacks=[InterruptAfterEpoch(2)],
            verbose=0,
        )
    assert json.loads((tmp_path / "cut" / "provenance.json").read_text())["status"] == "running"
    with pytest.raises(ValueError, match="unfinished"):
        load_stage(tmp_path / "cut")
    with pytest.raises(FileExistsError, match="--resume"):
        train_vae(isolated_data, tmp_path / "cut", config=config, verbose=0)

    # resume without --config: the stored configuration is used
    again = train_vae(isolated_data, tmp_path / "cut", resume=True, callbacks=[resumed], verbose=0)
    assert again.status == "complete"
    assert again.epochs_completed == full.epochs_completed == 3
    # exact equality (CPU): same final weights, same best weights, same losses
    for name in ("encoder", "decoder"):
        assert_same_weights(resumed.weights[name], straight.weights[name])
    for name in artifacts.WEIGHT_FILES:
        assert sha256_file(tmp_path / "cut" / name) == sha256_file(tmp_path / "full" / name)
    for a, b in zip(again.history, full.history, strict=True):
        assert {k: v for k, v in a.items() if k != "seconds"} == {
            k: v for k, v in b.items() if k != "seconds"
        }
    provenance = json.loads((tmp_path / "cut" / "provenance.json").read_text())
    assert provenance["resumed"][0]["from_epoch"] == 2

    # resuming a finished run does nothing
    done = train_vae(isolated_data, tmp_path / "cut", resume=True, verbose=0)
    assert done.status == "complete"
    assert done.epochs_completed == 3


def test_resume_after_the_last_epoch_only_finalises(
    isolated_data: Path, tmp_path: Path, tiny_config
) -> None:
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        train_vae(
            isolated_data,
            out,
            config=tiny_config(epochs=1),
            callbacks=[InterruptAfterEpoch(1)],
            verbose=0,
        )
    before = sha256_file(out / "encoder.h5")
    result = train_vae(isolated_data, out, resume=True, verbose=0)
    assert result.status == "complete"
    assert result.epochs_completed == 1
    assert sha256_file(out / "encoder.h5") == before
    load_stage(out)


def test_early_stopping_and_overwrite(isolated_data: Path, tmp_path: Path, tiny_config) -> None:
    out = tmp_path / "run"
    config = tiny_config(epochs=6, early_stopping_patience=1, early_stopping_min_delta=1e12)
    result = train_vae(isolated_data, out, config=config, verbose=0)
    assert result.stopped_early
    assert result.epochs_completed == 2  # no epoch can improve by 1e12 nats
    assert result.best_epoch == 1
    result = train_vae(
        isolated_data, out, config=tiny_config(epochs=1, augment=False), overwrite=True, verbose=0
    )
    assert result.epochs_completed == 1
    assert not result.stopped_early


def test_non_finite_loss_fails_the_run(isolated_data: Path, tmp_path: Path, tiny_config) -> None:
    out = tmp_path / "run"
    result = train_vae(
        isolated_data, out, config=tiny_config(epochs=2, learning_rate=1e30), verbose=0
    )
    assert result.status == "failed"
    assert "non-finite" in result.failure
    with pytest.raises(ValueError, match="failed"):
        load_stage(out)


def test_separate_validation_set_and_single_shard(
    tmp_path: Path, isolated_data: Path, tiny_config, write_dataset
) -> None:
    single = write_dataset(tmp_path / "one", "isolated", 64, 1, seed=5)
    result = train_vae(
        single, tmp_path / "run", config=tiny_config(epochs=1), val_data=isolated_data, verbose=0
    )
    provenance = json.loads((tmp_path / "run" / "provenance.json").read_text())
    assert result.status == "complete"
    assert provenance["data"]["train"]["shards"] == [0]
    assert provenance["data"]["validation"]["shards"] == [0, 1, 2, 3]
    assert provenance["data"]["validation"]["manifest_sha256"] == manifest_sha256(isolated_data)
