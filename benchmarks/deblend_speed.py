"""Benchmark: deblended stamps per second, against sep photometry of the same stamps.

Prints the throughput of ``Deblender.deblend`` (several batch sizes; then, at the
best one, ``symmetrize=True``, ``neighbours`` "subtract" and "check", and
"check" with ``refine=True``, without and with ``symmetrize=True``; and
``flux_with_error``, fluxes with their calibrated errors) and of the
SExtractor-style baseline (``sep_central_photometry``: detection, deblending,
Kron photometry) on the same blended stamps, measured in the same run, and the
ratio to the goal of 1,500 stamps per second on this machine. With ``--json`` the
figures are also written to a JSON file (with the machine, the library versions
and the model's folder), so that the figures quoted in the documentation can be
checked against the file.

Usage::

    python benchmarks/deblend_speed.py [--model analytic] [--data DIR] [--n-stamps 5000] \
        [--json reports/benchmarks/deblend_speed_cpu.json]

Without ``--data`` a blended set is generated first with the built-in generator
(not timed). Each figure is the best of ``--repeats`` runs, after one warm-up
call that compiles the network.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

GOAL_STAMPS_PER_S = 1500.0


def best_rate(function, n: int, repeats: int) -> float:
    """Stamps per second of the fastest of ``repeats`` calls of ``function()``."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return n / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="analytic")
    parser.add_argument("--data", help="blended data set (default: generate one)")
    parser.add_argument("--n-stamps", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args()
    if args.json and Path(args.json).exists():
        parser.error(f"--json {args.json} exists; remove it or name another file")

    import tensorflow as tf

    from data_generation.config import GenerationConfig
    from data_generation.pipeline import generate_dataset
    from data_generation.tfrecords import read_numpy
    from debvader_euclid import Deblender
    from debvader_euclid.baselines import sep_central_photometry

    with tempfile.TemporaryDirectory() as tmp:
        data = args.data
        if data is None:
            data = Path(tmp) / "blends"
            cfg = GenerationConfig(kind="blended", n_stamps=args.n_stamps, seed=777)
            generate_dataset(cfg, data, workers=os.cpu_count() or 1, progress=False)
        arrays = read_numpy(
            data, fields=["blend_noisy", "noise_sigma_uJy"], max_examples=args.n_stamps
        )
    stamps = arrays["blend_noisy"]
    sigma = float(arrays["noise_sigma_uJy"][0])
    n = len(stamps)
    deblender = Deblender.load(args.model)
    deblender.deblend(stamps[:64])  # warm-up: traces and compiles the network

    print(
        f"cores: {os.cpu_count()}, TensorFlow threads: intra "
        f"{tf.config.threading.get_intra_op_parallelism_threads() or 'auto'}, "
        f"stamps: {n} ({stamps.shape[1]}x{stamps.shape[2]}), model: {deblender.folder}"
    )
    sep_rate = best_rate(lambda: sep_central_photometry(stamps, sigma), n, args.repeats)
    figures: dict[str, float] = {"sep_central_photometry": sep_rate}
    print(f"baseline, sep detection + Kron photometry: {sep_rate:9.1f} stamps/s")
    rates = {}
    for batch in (64, 256, 1024):
        rate = best_rate(lambda b=batch: deblender.deblend(stamps, batch_size=b), n, args.repeats)
        rates[batch] = rate
        figures[f"deblend_batch_{batch}"] = rate
        print(
            f"Deblender.deblend, batch {batch:5d}:     {rate:9.1f} stamps/s "
            f"({rate / sep_rate:5.2f}x sep; {rate / GOAL_STAMPS_PER_S:4.2f}x the goal of "
            f"{GOAL_STAMPS_PER_S:.0f}/s)"
        )
    best = max(rates, key=rates.get)
    verdict = "meets" if rates[best] >= GOAL_STAMPS_PER_S else "MISSES"
    print(f"best: batch {best}, {rates[best]:.1f} stamps/s: {verdict} the goal")
    rate = best_rate(
        lambda: deblender.deblend(stamps, batch_size=best, symmetrize=True), n, args.repeats
    )
    figures["deblend_symmetrize"] = rate
    print(
        f"Deblender.deblend(symmetrize=True), batch {best}: {rate:9.1f} stamps/s "
        f"({rate / sep_rate:5.2f}x sep; {rate / rates[best]:4.2f}x the default; "
        "the accuracy mode, not held to the goal)"
    )
    settings = (
        ("subtract", False, False),
        ("check", False, False),
        ("check", True, False),
        ("check", True, True),
    )
    for mode, refine, symmetrize in settings:
        rate = best_rate(
            lambda mode=mode, refine=refine, symmetrize=symmetrize: deblender.deblend(
                stamps,
                batch_size=best,
                neighbours=mode,
                refine=refine,
                symmetrize=symmetrize,
                noise_sigma_uJy=sigma,
            ),
            n,
            args.repeats,
        )
        label = (
            f"neighbours={mode!r}"
            + (", refine=True" if refine else "")
            + (", symmetrize=True" if symmetrize else "")
        )
        figures[f"deblend({label})"] = rate
        print(
            f"Deblender.deblend({label}), batch {best}: {rate:9.1f} stamps/s "
            f"({rate / sep_rate:5.2f}x sep; {rate / rates[best]:4.2f}x the default; "
            "an option, not held to the goal)"
        )

    rate = best_rate(
        lambda: deblender.flux_with_error(stamps, sigma, batch_size=best), n, args.repeats
    )
    figures["flux_with_error"] = rate
    print(
        f"Deblender.flux_with_error(), batch {best}: {rate:9.1f} stamps/s "
        f"({rate / sep_rate:5.2f}x sep; {rate / rates[best]:4.2f}x the default deblend; "
        "fluxes with calibrated errors)"
    )
    if args.json:
        import platform
        from datetime import UTC, datetime

        import numpy as np

        from data_generation.io_utils import write_json_atomic

        write_json_atomic(
            args.json,
            {
                "command": "python benchmarks/deblend_speed.py " + " ".join(sys.argv[1:]),
                "created": datetime.now(UTC).isoformat(timespec="seconds"),
                "machine": {"cores": os.cpu_count(), "platform": platform.platform()},
                "versions": {"tensorflow": tf.__version__, "numpy": np.__version__},
                "model": str(deblender.folder),
                "n_stamps": n,
                "best_batch": best,
                "goal_stamps_per_s": GOAL_STAMPS_PER_S,
                "stamps_per_s": figures,
            },
        )
        print(f"figures written to {args.json}")


if __name__ == "__main__":
    main()
