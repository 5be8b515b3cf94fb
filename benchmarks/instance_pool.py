"""Instance-wise average pooling: our vectorised version vs pix2pixHD's Python loop.

    python benchmarks/instance_pool.py --size 1024x512 --instances 60 --device cpu

Prints a JSON line with the median time of each (forward + backward) and the speed-up.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from hrgan.models import instance_average_pool  # noqa: E402
from tests.models.pix2pixhd_layout import loop_instance_average  # noqa: E402


def median_seconds(fn, *, repeats: int, device: torch.device) -> tuple[float, float, float]:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times), max(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="1024x512", help="WIDTHxHEIGHT")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--channels", type=int, default=3, help="feat_num")
    parser.add_argument("--instances", type=int, default=60, help="instances per image")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    device = torch.device(args.device)
    torch.manual_seed(0)
    cells = torch.randint(0, args.instances, (args.batch, height // 16, width // 16))
    instance = (cells * 1000 + 26000).repeat_interleave(16, 1).repeat_interleave(16, 2).to(device)
    features = torch.randn(args.batch, args.channels, height, width, device=device, requires_grad=True)

    def step(pool):
        def run():
            features.grad = None
            pool(features, instance).sum().backward()

        return run

    ours = median_seconds(step(instance_average_pool), repeats=args.repeats, device=device)
    loop = median_seconds(step(loop_instance_average), repeats=max(1, args.repeats // 2), device=device)
    print(
        json.dumps(
            {
                "benchmark": "instance_average_pool forward+backward",
                "size": args.size,
                "batch": args.batch,
                "instances": args.instances,
                "device": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu",
                "threads": torch.get_num_threads(),
                "torch": torch.__version__,
                "ours_s": {"median": ours[0], "min": ours[1], "max": ours[2]},
                "official_loop_s": {"median": loop[0], "min": loop[1], "max": loop[2]},
                "speedup": loop[0] / ours[0],
            }
        )
    )


if __name__ == "__main__":
    main()
