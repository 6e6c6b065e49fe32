"""``debvader-euclid demo``: the main job, end to end on a small fresh data set.

Generates a blended data set with the built-in EGG-recipe generator, prints what
it made and saves a picture of a few stamps.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``demo`` subcommand."""
    parser = subparsers.add_parser(
        "demo", help="simulate a small blended data set and show a few stamps"
    )
    parser.add_argument("--out", default="demo_output", help="output folder (demo_output)")
    parser.add_argument("--n-stamps", type=int, default=500, help="blends to simulate (500)")
    parser.add_argument("--seed", type=int, default=2026, help="seed (2026)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (2)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the demo; returns the exit status."""
    from data_generation.config import GenerationConfig
    from data_generation.describe import describe_dataset
    from data_generation.pipeline import generate_dataset
    from data_generation.tfrecords import read_numpy
    from debvader_euclid.plotting import plot_blend_examples

    out = Path(args.out)
    data_dir = out / "blended"
    config = GenerationConfig(
        kind="blended", n_stamps=args.n_stamps, seed=args.seed, shard_size=250
    )
    summary = generate_dataset(config, data_dir, workers=args.workers, progress=True)
    print("\n".join(summary.lines()))
    print("\n".join(describe_dataset(data_dir)))
    data = read_numpy(data_dir)
    order = np.argsort(data["blendedness"])[::-1]
    figure = plot_blend_examples(data, out / "blends.png", indices=order[: min(4, len(order))])
    print(f"stamps of the four most blended pairs: {figure}")
    return 0
