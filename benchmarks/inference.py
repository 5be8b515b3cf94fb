"""Inference throughput and peak memory of `hrgan infer`'s model call (conditioning, padding, generator).

    python benchmarks/inference.py                       # CPU: 256x512, fp32 and bf16
    python benchmarks/inference.py --device cuda         # GPU: 1024x512 (global) and 2048x1024 (one enhancer)
    python benchmarks/inference.py --device cuda --sizes 1024x512 --batch 8

Networks are the official sizes with random weights (speed does not depend on
them): 35 Cityscapes classes + the edge channel; the global generator (ngf 64,
9 blocks) up to 1024x512, pix2pixHD's local generator (ngf 32, one enhancer)
above. Each (size, precision) runs in its own process, so the peak memory is
its own: CUDA max_memory_allocated, or on CPU the process's peak resident size.
Warm-up, then the median (min, max) of --repeats timed calls. Prints JSON lines.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from hrgan.artifacts import make_export  # noqa: E402
from hrgan.data.classes import load_classes  # noqa: E402
from hrgan.inference.synthesizer import Synthesizer  # noqa: E402
from hrgan.models import GlobalGenerator, Pix2PixHDGenerator  # noqa: E402

LABEL_NC = 35


def export_for(width: int) -> dict:
    if width > 1024:
        generator = Pix2PixHDGenerator(in_channels=LABEL_NC + 1, ngf=32, n_local_enhancers=1)
        active = 1
    else:
        generator = GlobalGenerator(in_channels=LABEL_NC + 1, ngf=64)
        active = 0
    return make_export(generator=generator, encoder=None, label_nc=LABEL_NC, ignore_index=None, use_instance_edges=True,
                       feat_num=0, n_active_enhancers=active, classes=load_classes(None, LABEL_NC))


def measure(size: tuple[int, int], precision: str, device: str, batch: int, repeats: int) -> dict:
    width, height = size
    synth = Synthesizer(export_for(width), device=device, precision=precision)
    torch.backends.cudnn.benchmark = True
    label = torch.randint(0, LABEL_NC, (batch, height, width), device=device)
    instance = torch.randint(0, 20, (batch, height, width), device=device)

    def call():
        out = synth(label, instance)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        return out

    for _ in range(2):
        call()
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    if device.startswith("cuda"):
        peak = torch.cuda.max_memory_allocated() / 2**20
        hardware = torch.cuda.get_device_name()
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
        hardware = f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"
    median = statistics.median(times)
    return {
        "size": f"{width}x{height}", "precision": precision, "device": device, "hardware": hardware, "batch": batch,
        "network": type(synth.generator).__name__, "img_per_s": round(batch / median, 3),
        "s_per_call": {"median": round(median, 4), "min": round(min(times), 4), "max": round(max(times), 4)},
        "peak_mem_mib": round(peak, 1), "torch": torch.__version__,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--sizes", nargs="+", help="WIDTHxHEIGHT (default: 512x256 on CPU; 1024x512 2048x1024 on CUDA)")
    parser.add_argument("--precisions", nargs="+", default=["32", "bf16"])
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: one measurement in this process
    args = parser.parse_args()
    if args.one:
        spec = json.loads(args.one)
        print(json.dumps(measure(tuple(spec["size"]), spec["precision"], args.device, args.batch, args.repeats)))
        return 0
    sizes = args.sizes or (["1024x512", "2048x1024"] if args.device.startswith("cuda") else ["512x256"])
    for text in sizes:
        size = [int(v) for v in text.split("x")]
        for precision in args.precisions:
            one = json.dumps({"size": size, "precision": precision})
            command = [sys.executable, __file__, "--device", args.device, "--batch", str(args.batch),
                       "--repeats", str(args.repeats), "--one", one]
            result = subprocess.run(command, capture_output=True, text=True)
            print(result.stdout.strip() if result.returncode == 0 else json.dumps(
                {"size": text, "precision": precision, "error": result.stderr.strip().splitlines()[-1:]}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
