"""Benchmark: deblended stamps per second on a GPU, from the exported network.

Runs the ONNX export of a deblender (``benchmarks/export_onnx.py``) with PyTorch
(through onnx2torch) on a CUDA GPU, for machines that have PyTorch but no
TensorFlow. First it checks the GPU computes what ``Deblender.deblend`` computes:
the reference stamps are deblended and their fluxes compared with TensorFlow's
(``reference.npz``). Then it times, for several batch sizes:

- ``host -> host``: numpy stamps in uJy/pixel in host memory to numpy deblended
  stamps in host memory (normalisation on the GPU; transfers included), the figure
  a pipeline feeding stamps from disk gets;
- ``on GPU``: stamps already on the GPU, results left there.

In the same run, as the baseline, the same ONNX graph on the host CPU with
onnxruntime (all cores), and the ratio to the package's goal of 1,500 stamps/s.
Full float32 is the main figure (TF32 tensor-core maths off); a TF32 row is
printed with its measured flux difference.

Usage::

    python benchmarks/onnx_gpu_speed.py --export DIR [--n-stamps 65536] [--json FILE]

Needs torch with CUDA, onnx, onnx2torch, onnxruntime (benchmark-only).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

GOAL_STAMPS_PER_S = 1500.0


def best_seconds(function, repeats: int, synchronize=None) -> float:
    """Wall time of the fastest of ``repeats`` calls, after one warm-up call."""
    function()
    if synchronize:
        synchronize()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        if synchronize:
            synchronize()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--export", required=True, help="folder written by export_onnx.py")
    parser.add_argument("--n-stamps", type=int, default=65536)
    parser.add_argument("--batch-sizes", default="256,1024,4096,16384")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--cpu-stamps", type=int, default=4096, help="stamps for the CPU baseline")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args()

    import numpy as np
    import onnx
    import onnxruntime
    import torch
    from onnx2torch import convert

    if not torch.cuda.is_available():
        raise SystemExit("no CUDA GPU visible to PyTorch: this benchmark needs one")
    export = Path(args.export)
    info = json.loads((export / "export.json").read_text())
    scale = float(info["normalization_scale_uJy_per_pixel"])
    reference = np.load(export / "reference.npz")
    device = torch.device("cuda")
    network = convert(onnx.load(str(export / "deblender.onnx"))).to(device).eval()

    def deblend_on_gpu(stamps_gpu: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return scale * torch.sinh(network(torch.asinh(stamps_gpu / scale)))

    def deblend_host(stamps: np.ndarray, batch: int) -> np.ndarray:
        out = np.empty_like(stamps)
        for start in range(0, len(stamps), batch):
            chunk = torch.from_numpy(stamps[start : start + batch]).to(device, non_blocking=True)
            out[start : start + batch] = deblend_on_gpu(chunk).cpu().numpy()
        return out

    results: dict = {
        "gpu": torch.cuda.get_device_name(0),
        "torch": torch.__version__,
        "onnxruntime": onnxruntime.__version__,
        "cpu_cores": os.cpu_count(),
        "python": platform.python_version(),
        "export": info,
        "n_stamps": args.n_stamps,
        "rows": [],
    }

    def check(label: str) -> float:
        predicted = deblend_host(reference["stamps"], 256)
        flux_tf = reference["deblended"].sum(axis=(1, 2))
        flux_gpu = predicted.sum(axis=(1, 2))
        worst = float(np.max(np.abs(flux_gpu / flux_tf - 1.0)))
        n = len(flux_tf)
        print(f"{label}: max |flux_gpu / flux_tensorflow - 1| over {n} stamps = {worst:.2e}")
        return worst

    torch.backends.cudnn.benchmark = True  # pick the fastest convolution algorithms
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    results["max_relative_flux_difference_fp32"] = check("float32")
    if results["max_relative_flux_difference_fp32"] > 1e-4:
        raise SystemExit("the GPU network does not reproduce TensorFlow's fluxes to 1e-4")

    reps = int(np.ceil(args.n_stamps / len(reference["stamps"])))
    stamps = np.ascontiguousarray(np.tile(reference["stamps"], (reps, 1, 1))[: args.n_stamps])
    stamps_gpu = torch.from_numpy(stamps).to(device)
    synchronize = torch.cuda.synchronize

    def time_rows(maths: str) -> None:
        for batch in [int(b) for b in args.batch_sizes.split(",")]:

            def from_host(batch: int = batch) -> None:
                deblend_host(stamps, batch)

            def resident(batch: int = batch) -> None:
                for start in range(0, len(stamps_gpu), batch):
                    deblend_on_gpu(stamps_gpu[start : start + batch])

            host = best_seconds(from_host, args.repeats, synchronize)

            on_gpu = best_seconds(resident, args.repeats, synchronize)
            row = {
                "maths": maths,
                "batch": batch,
                "host_to_host_stamps_per_s": args.n_stamps / host,
                "on_gpu_stamps_per_s": args.n_stamps / on_gpu,
            }
            results["rows"].append(row)
            print(
                f"GPU {maths:7s} batch {batch:6d}: "
                f"host->host {row['host_to_host_stamps_per_s']:10,.0f} stamps/s, "
                f"on GPU {row['on_gpu_stamps_per_s']:10,.0f} stamps/s"
            )

    time_rows("float32")
    torch.backends.cudnn.allow_tf32 = True
    torch.backends.cuda.matmul.allow_tf32 = True
    results["max_relative_flux_difference_tf32"] = check("TF32")
    time_rows("TF32")

    session = onnxruntime.InferenceSession(
        str(export / "deblender.onnx"), providers=["CPUExecutionProvider"]
    )
    cpu_stamps = stamps[: args.cpu_stamps]

    def cpu_run() -> None:
        for start in range(0, len(cpu_stamps), 256):
            chunk = np.arcsinh(cpu_stamps[start : start + 256] / scale).astype(np.float32)
            scale * np.sinh(session.run(None, {"normalized": chunk})[0])

    cpu_rate = len(cpu_stamps) / best_seconds(cpu_run, max(1, args.repeats // 2))
    results["cpu_onnxruntime_stamps_per_s"] = cpu_rate
    best = max(results["rows"], key=lambda r: r["host_to_host_stamps_per_s"])
    best_fp32 = max(
        (r for r in results["rows"] if r["maths"] == "float32"),
        key=lambda r: r["host_to_host_stamps_per_s"],
    )
    print(f"CPU onnxruntime ({os.cpu_count()} cores) batch 256: {cpu_rate:,.0f} stamps/s")
    print(
        f"best float32 host->host: {best_fp32['host_to_host_stamps_per_s']:,.0f} stamps/s "
        f"(batch {best_fp32['batch']}) = {best_fp32['host_to_host_stamps_per_s'] / cpu_rate:.1f}x "
        f"the CPU baseline, {best_fp32['host_to_host_stamps_per_s'] / GOAL_STAMPS_PER_S:.0f}x the "
        f"goal of {GOAL_STAMPS_PER_S:,.0f}/s; best overall {best['host_to_host_stamps_per_s']:,.0f}"
        f" ({best['maths']}, batch {best['batch']})"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
