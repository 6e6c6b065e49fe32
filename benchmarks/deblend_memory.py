"""Benchmark: ``debvader-euclid deblend`` keeps its memory flat as the input grows.

Writes a ``.npy`` file of ``--n-small`` stamps and one of ``--factor`` times as many
(blended stamps of a data set, repeated), runs ``debvader-euclid deblend`` on each
in a fresh process and prints each run's peak resident memory (the child's
``ru_maxrss``), its wall time and stamps per second. The small run is the
baseline measured in the same run: a flat memory profile shows as a ratio near 1,
against ``factor`` for a command that held its input or output in memory.

Usage::

    python benchmarks/deblend_memory.py --data data/blended-test [--n-small 20000] [--factor 5]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def run_deblend(stamps: Path, out: Path, sigma: float) -> tuple[float, float]:
    """(peak RSS in MiB, wall seconds) of one ``deblend`` run in a child process."""
    command = [sys.executable, "-m", "debvader_euclid.cli", "deblend", "--stamps", str(stamps)]
    command += ["--out", str(out), "--noise-sigma", repr(sigma)]
    start = time.perf_counter()
    # Each run is the only child waited for so far at its turn: read the peak right after.
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="blended data set to take stamps from")
    parser.add_argument("--n-small", type=int, default=20000)
    parser.add_argument("--factor", type=int, default=5)
    args = parser.parse_args()

    import numpy as np

    from data_generation.tfrecords import read_numpy

    data = read_numpy(args.data, fields=["blend_noisy", "noise_sigma_uJy"], max_examples=2000)
    sigma = float(data["noise_sigma_uJy"][0])
    with tempfile.TemporaryDirectory() as tmp:
        rows = []
        for n in (args.n_small, args.n_small * args.factor):
            path = Path(tmp) / f"stamps_{n}.npy"
            # Written through a file handle, not a memory map: a child forked from a parent
            # with the file mapped would count those pages in its own peak RSS.
            with open(path, "wb") as f:
                header = {"descr": "<f4", "fortran_order": False, "shape": (n, 64, 64)}
                np.lib.format.write_array_header_1_0(f, header)
                for start in range(0, n, len(data["blend_noisy"])):
                    f.write(data["blend_noisy"][: n - start].astype("<f4").tobytes())
            peak_mib, seconds = run_deblend(path, Path(tmp) / f"out_{n}", sigma)
            rows.append((n, peak_mib, seconds, path.stat().st_size / 2**20))
            print(
                f"{n:8d} stamps ({rows[-1][3]:6.0f} MiB in, as much out): peak RSS so far "
                f"{peak_mib:7.0f} MiB, {seconds:6.1f} s, {n / seconds:6.0f} stamps/s",
                flush=True,
            )
            (Path(tmp) / f"out_{n}" / "deblended.fits").unlink()
            path.unlink()
    (n0, m0, _, _), (n1, m1, _, _) = rows
    print(
        f"{n1 / n0:.0f}x the stamps: peak memory x{m1 / m0:.2f} "
        "(ru_maxrss of the children, a running maximum)"
    )


if __name__ == "__main__":
    main()
