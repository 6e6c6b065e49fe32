"""Training throughput (stamps per second) of the VAE, and the projected training time.

Measures two numbers for a model configuration (the shipped defaults unless
``--config`` is given):

``model``
    training steps on in-memory batches: the network alone;
``pipeline``
    training steps fed by the real input pipeline (TFRecord shards written to a
    temporary folder, shuffle, random rotations/flips, arcsinh normalisation,
    prefetch): what ``debvader-euclid train`` achieves.

and projects the time of a full training: ``(n_images * epochs) / pipeline rate``
(validation passes, about 1/3 of the cost of a training pass per image, are
included through ``--val-fraction``).

Usage::

    python benchmarks/train_throughput.py                       # shipped configuration
    python benchmarks/train_throughput.py --config my.json --json out.json
    python benchmarks/train_throughput.py --model filters=16,32,64,128 --steps 60

Run it on an otherwise idle machine; it takes about a minute.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def synthetic_example(rng: np.random.Generator, size: int) -> dict:
    """One isolated example: elliptical exponential galaxy, 0.1-300 uJy, + noise."""
    from data_generation.schema import truth_fields

    flux = 10 ** rng.uniform(-1, np.log10(300))
    hlr, q, angle = rng.uniform(1.5, size / 8), rng.uniform(0.3, 1), rng.uniform(0, np.pi)
    yy, xx = np.mgrid[0:size, 0:size] - size / 2
    u = np.cos(angle) * xx + np.sin(angle) * yy
    v = (-np.sin(angle) * xx + np.cos(angle) * yy) / q
    profile = np.exp(-1.678 * np.hypot(u, v) / hlr)
    clean = (flux * profile / profile.sum()).astype(np.float32)
    example = {
        "central_noiseless": clean,
        "central_noisy": clean + rng.normal(0, 0.0035, clean.shape).astype(np.float32),
    }
    for f in truth_fields("isolated"):
        example[f.name] = 0 if f.dtype == "int64" else 0.0
    return example


def write_shards(folder: Path, n_examples: int, n_shards: int, size: int) -> None:
    from data_generation.manifest import Manifest, save_manifest, shard_filename
    from data_generation.schema import SCHEMA_VERSION
    from data_generation.tfrecords import ShardWriter

    rng = np.random.default_rng(0)
    records = []
    for index, rows in enumerate(np.array_split(np.arange(n_examples), n_shards)):
        with ShardWriter(folder / shard_filename(index, n_shards), "isolated", size) as writer:
            for _ in rows:
                writer.write(synthetic_example(rng, size))
        records.append(writer.record(index=index, seed=index))
    save_manifest(
        folder,
        Manifest("isolated", SCHEMA_VERSION, size, 0, {"benchmark": True}, records),
    )


def parse_override(text: str) -> tuple[str, object]:
    key, _, value = text.partition("=")
    if "," in value:
        return key, [int(v) for v in value.split(",") if v]
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def timed_fit(model, dataset, steps: int) -> float:
    """Seconds for ``steps`` training steps (after a warm-up that traces the graph)."""
    model.fit(dataset, epochs=1, steps_per_epoch=min(5, steps), verbose=0)
    start = time.perf_counter()
    model.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", help="JSON configuration (model / training sections)")
    parser.add_argument(
        "--model", action="append", default=[], metavar="KEY=VALUE", help="model override"
    )
    parser.add_argument("--batch-size", type=int, help="override training.batch_size")
    parser.add_argument("--steps", type=int, default=40, help="timed training steps per mode")
    parser.add_argument("--examples", type=int, default=2048, help="stamps in the TFRecord set")
    parser.add_argument("--n-images", type=int, default=150_000, help="images to project for")
    parser.add_argument(
        "--epochs", type=int, default=None, help="epochs to project for (default: training.epochs)"
    )
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args(argv)

    import tensorflow as tf
    import tf_keras as keras

    from debvader_euclid.models import (
        ArcsinhNormalizer,
        LatentSampler,
        ModelConfig,
        PixelGaussianNLL,
        build_encoder_decoder,
        connect,
    )
    from debvader_euclid.training.config import read_config_file
    from debvader_euclid.training.data import split_data, training_dataset
    from debvader_euclid.training.trainer import learning_rate_schedule

    cfg = read_config_file(args.config)
    model_section = dict(cfg.model)
    model_section.update(parse_override(o) for o in args.model)
    config = ModelConfig.from_dict(model_section)
    training = cfg.training
    if args.batch_size:
        training = training.replace(batch_size=args.batch_size)
    epochs = args.epochs or training.epochs
    size, batch = config.stamp_size, training.batch_size

    keras.utils.set_random_seed(0)
    encoder, decoder = build_encoder_decoder(config, sampler=LatentSampler(0))
    model = connect(encoder, decoder, "vae")
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate_schedule(training, 1000)),
        loss=PixelGaussianNLL(config),
    )
    n_weights = model.count_params()
    norm = ArcsinhNormalizer(config.normalization_scale)

    # network alone: in-memory batches
    rng = np.random.default_rng(1)
    stamps = np.stack([synthetic_example(rng, size)["central_noisy"] for _ in range(4 * batch)])
    x = norm.normalize(stamps)[..., None]
    memory = tf.data.Dataset.from_tensor_slices((x, x)).batch(batch).repeat()
    t_model = timed_fit(model, memory, args.steps)

    # real pipeline from TFRecord shards
    with tempfile.TemporaryDirectory(prefix="debvader-bench-") as tmp:
        folder = Path(tmp) / "isolated"
        folder.mkdir()
        write_shards(folder, args.examples, 8, size)
        split = split_data("vae", folder, val_fraction=0.125)
        bench = training.replace(epochs=10_000, steps_per_epoch=None)
        stream, _ = training_dataset(split, bench.replace(epochs=1), norm)
        stream = stream.repeat()
        t_pipe = timed_fit(model, stream, args.steps)

    rate_model = args.steps * batch / t_model
    rate_pipe = args.steps * batch / t_pipe
    # A validation pass (forward only, ~1/3 of a training step per stamp) on val_fraction.
    per_epoch = args.n_images * (1 - training.val_fraction) / rate_pipe + (
        args.n_images * training.val_fraction / (3 * rate_pipe)
    )
    results = {
        "model_config": config.to_dict(),
        "batch_size": batch,
        "trainable_weights": n_weights,
        "stamps_per_second_model": round(rate_model, 1),
        "stamps_per_second_pipeline": round(rate_pipe, 1),
        "projection": {
            "n_images": args.n_images,
            "epochs": epochs,
            "val_fraction": training.val_fraction,
            "seconds_per_epoch": round(per_epoch, 1),
            "minutes_total": round(epochs * per_epoch / 60, 1),
        },
        "peak_memory_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "machine": {
            "cpus": os.cpu_count(),
            "gpus": len(tf.config.list_physical_devices("GPU")),
            "platform": platform.platform(),
            "tensorflow": tf.__version__,
        },
    }
    print(f"model: latent {config.latent_dim}, filters {list(config.filters)}, ", end="")
    print(f"{n_weights:,} weights, batch {batch}, {size}x{size} stamps")
    print(f"network alone : {rate_model:8.1f} stamps/s")
    print(f"with pipeline : {rate_pipe:8.1f} stamps/s")
    print(
        f"projection    : {args.n_images:,} images x {epochs} epochs = "
        f"{results['projection']['minutes_total']:.1f} min "
        f"({per_epoch:.0f} s per epoch incl. validation)"
    )
    print(f"peak memory   : {results['peak_memory_mib']:.0f} MiB (resident, whole process)")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
