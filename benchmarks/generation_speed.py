"""Benchmark: how fast `debvader-euclid generate` makes stamps on this machine.

Prints, for isolated and for blended stamps:

* stamps per second with one worker process (per core) and with ``--workers``,
  in the steady state, from the time each worker spent on its shards
  (``GenerationSummary.shard_seconds``): ``workers * n / sum(shard seconds)``.
  The fixed start-up (spawning workers that import TensorFlow to write TFRecords,
  reading the catalogue) is the rest of the wall-clock time, reported apart;
* the baseline measured in the same run: GalSim alone drawing the same central
  galaxies (no noise, no neighbour, no serialisation), and the pipeline's cost as
  a ratio to it;
* the projected time for the paper-sized set of 150,000 images (half isolated for
  stage 1, half blended for stage 2), against the goal of 10 minutes.

Usage::

    python benchmarks/generation_speed.py [--n-stamps 1000] [--workers 2]

The galaxies come from the built-in EGG-recipe catalogue (default magnitude
ranges), so their sizes, and hence drawing costs, are those of the real data sets.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from data_generation.catalog import read_catalogue
from data_generation.config import GenerationConfig
from data_generation.instrument import VISInstrument
from data_generation.pipeline import CATALOGUE_NAME, SelectionPlan, generate_dataset
from data_generation.render import StampRenderer

PAPER_SET = 150_000
GOAL_SECONDS = 600.0


def time_generation(
    kind: str, n: int, workers: int, catalogue: Path, root: Path
) -> tuple[float, float]:
    """Steady-state stamps per second and start-up seconds of a ``generate`` run."""
    cfg = GenerationConfig(
        kind=kind,
        n_stamps=n,
        seed=1,
        shard_size=max(1, n // (4 * workers)),
        catalogue=str(catalogue),
    )
    out = root / f"{kind}-{workers}-{n}"
    start = time.perf_counter()
    summary = generate_dataset(cfg, out, workers=workers, progress=False)
    wall = time.perf_counter() - start
    rate = workers * n / sum(summary.shard_seconds)
    return rate, max(0.0, wall - n / rate)


def time_galsim_baseline(n: int, catalogue: Path) -> float:
    """Stamps per second of GalSim alone drawing the same central galaxies."""
    cfg = GenerationConfig(kind="isolated", n_stamps=n, seed=1, catalogue=str(catalogue))
    table, _ = read_catalogue(catalogue)
    rows = SelectionPlan.build(table, cfg).central_rows[:n]
    records = table.iloc[rows].to_dict("records")
    renderer = StampRenderer(VISInstrument(), cfg.stamp_size)
    start = time.perf_counter()
    for row in records:
        renderer.draw_row(row)
    return len(records) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-stamps", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        # one built-in catalogue, sized for the largest run, shared by every measurement
        seed_run = root / "catalogue-run"
        generate_dataset(
            GenerationConfig(kind="isolated", n_stamps=args.n_stamps, seed=1, shard_size=1),
            seed_run, workers=1, progress=False,
        )  # fmt: skip
        catalogue = seed_run / CATALOGUE_NAME
        baseline = time_galsim_baseline(args.n_stamps, catalogue)
        print(f"cores: {os.cpu_count()}, stamps per run: {args.n_stamps}")
        print(f"baseline, GalSim drawing the central galaxy only: {baseline:8.1f} stamps/s")
        rates, startup = {}, {}
        for kind in ("isolated", "blended"):
            for workers in sorted({1, args.workers}):
                rate, seconds = time_generation(kind, args.n_stamps, workers, catalogue, root)
                rates[kind, workers] = rate
                startup[kind, workers] = seconds
                print(
                    f"{kind:9s} workers={workers}: {rate:8.1f} stamps/s steady "
                    f"({rate / workers:7.1f} per core, {baseline / rate * workers:4.2f}x the "
                    f"per-core cost of the baseline); start-up {startup[kind, workers]:.1f} s"
                )
        w = args.workers
        projected = sum(
            startup[kind, w] + PAPER_SET / 2 / rates[kind, w] for kind in ("isolated", "blended")
        )
        verdict = "meets" if projected <= GOAL_SECONDS else "MISSES"
        print(
            f"projected, {PAPER_SET} images (75,000 isolated + 75,000 blended) with "
            f"{w} workers: {projected / 60:.1f} min; goal {GOAL_SECONDS / 60:.0f} min: {verdict} "
            f"(ratio to goal {projected / GOAL_SECONDS:.2f})"
        )


if __name__ == "__main__":
    main()
