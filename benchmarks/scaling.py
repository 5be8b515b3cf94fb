"""A paper estimate of data-parallel scaling: gradient all-reduce time, how much of it the backward hides.

    python benchmarks/scaling.py                                  # 1024x512 global ngf 64 and 2048x1024 + 1 enhancer
    python benchmarks/scaling.py --mfu 0.30 --ib-gbps 200

Nothing here is measured. For each configuration the networks run once on fake
tensors (shapes only) to get, per layer in execution order, its FLOPs and
parameter bytes. The step's compute time is FLOPs / (peak x --mfu). Within the
G step's backward, layers finish in reverse order at times proportional to their
backward FLOPs (2x forward; memory-bound layers such as instance norm are
ignored, which makes the hidden share optimistic); DDP packs the gradients into
25 MB buckets and all-reduces each on its own stream once it is full, one bucket
after another. What is left after the backward ends is exposed. The D step's
small all-reduce (its gradients, ~33 MB) is simulated the same way.

All-reduce of S bytes over N GPUs with a ring: 2 (N - 1) / N x S / bus bandwidth.
Bus bandwidths: NVLink (within a node of 8) --nvlink-gbs GB/s; between nodes
each GPU has its own --ib-gbps Gb/s InfiniBand link at --ib-efficiency of line
rate. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from train_step import PEAKS, networks  # noqa: E402

from hrgan.conditioning import input_channels  # noqa: E402
from hrgan.models.vgg import VGG19Features  # noqa: E402

BUCKET_BYTES = 25 * 2**20  # DDP's default bucket_cap_mb


def conv_flops(module: nn.Module, inputs, output) -> float:
    """Forward FLOPs (2 per multiply-add) of a convolution call."""
    x = inputs[0]
    if isinstance(module, nn.ConvTranspose2d):
        spatial = x.shape[-2] * x.shape[-1]
    else:
        spatial = output.shape[-2] * output.shape[-1]
    k = module.kernel_size[0] * module.kernel_size[1]
    return 2.0 * x.shape[0] * module.in_channels * module.out_channels * k * spatial / module.groups


def layer_timeline(network: nn.Module, run) -> list[tuple[float, int]]:
    """(forward FLOPs, gradient bytes) of every convolution of ``network`` in the order ``run`` calls them."""
    rows: list[tuple[float, int]] = []

    def hook(module, inputs, output):
        grad_bytes = sum(p.numel() * 4 for p in module.parameters() if p.requires_grad)
        rows.append((conv_flops(module, inputs, output), grad_bytes))

    handles = [m.register_forward_hook(hook) for m in network.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    try:
        run()
    finally:
        for handle in handles:
            handle.remove()
    return rows


def exposed_comm(backward_layers: list[tuple[float, int]], backward_s: float, lead_s: float, allreduce_s) -> float:
    """Seconds of all-reduce left after the backward: layers run last-called-first, each taking its share of
    ``backward_s`` after ``lead_s`` (backward through frozen networks first); buckets fill in that order."""
    total_flops = sum(f for f, _ in backward_layers) or 1.0
    clock, comm_free, bucket = lead_s, lead_s, 0
    for flops, grad_bytes in reversed(backward_layers):
        clock += backward_s * flops / total_flops
        bucket += grad_bytes
        if bucket >= BUCKET_BYTES:
            comm_free = max(comm_free, clock) + allreduce_s(bucket)
            bucket = 0
    end = lead_s + backward_s
    if bucket:
        comm_free = max(comm_free, end) + allreduce_s(bucket)
    return max(0.0, comm_free - end)


def estimate(args, size, enhancers, ngf, batch) -> dict:
    from torch._subclasses.fake_tensor import FakeTensorMode

    config = argparse.Namespace(family="pix2pixhd", ngf=ngf, enhancers=enhancers, num_d=args.num_d, size=size)
    width, height = size
    with FakeTensorMode():
        generator, discriminator = networks(config)
        vgg = VGG19Features().requires_grad_(False)
        cond = torch.zeros(batch, input_channels(35, use_instance_edges=True, feat_num=0), height, width)
        fake = torch.zeros(batch, 3, height, width)
        g_layers = layer_timeline(generator, lambda: generator(cond, n_active_enhancers=enhancers))
        d_layers = layer_timeline(discriminator, lambda: discriminator(torch.cat([cond, fake], 1)))
        vgg_layers = layer_timeline(vgg, lambda: vgg(fake))
    g_fwd, d_fwd, vgg_fwd = (sum(f for f, _ in rows) for rows in (g_layers, d_layers, vgg_layers))
    # One step: G fwd + bwd (2x); D on real, fake (G step), fake (D step) forward; backward through D twice
    # in the G step (input gradients only, ~1x) and with weights in the D step (2x, on real and fake);
    # VGG forward on real and fake, backward for its input (1x).
    g_step_lead = d_fwd * 1.0 + vgg_fwd * 1.0  # backward through frozen D and VGG before G's layers
    total = g_fwd * 3 + d_fwd * 3 + g_step_lead + d_fwd * 2 * 2 + vgg_fwd * 2
    peak = args.peak_tflops * 1e12 * args.mfu
    step_s = total / peak
    g_backward_s, lead_s = 2 * g_fwd / peak, g_step_lead / peak
    d_backward_s = 2 * 2 * d_fwd / peak
    grad_bytes = sum(b for _, b in g_layers) + sum(b for _, b in d_layers)
    rows = []
    for gpus in args.gpus:
        if gpus <= 8:
            bus = args.nvlink_gbs * 1e9
        else:
            bus = args.ib_gbps / 8 * 1e9 * args.ib_efficiency

        def allreduce_s(nbytes, gpus=gpus, bus=bus):
            return 2 * (gpus - 1) / gpus * nbytes / bus + args.latency_us * 1e-6

        exposed = exposed_comm(g_layers, g_backward_s, lead_s, allreduce_s)
        exposed += exposed_comm(d_layers, d_backward_s, 0.0, allreduce_s)
        full = allreduce_s(grad_bytes)
        rows.append({
            "gpus": gpus, "link": "NVLink" if gpus <= 8 else f"{args.ib_gbps:g} Gb/s IB per GPU",
            "allreduce_ms": round(full * 1e3, 1), "exposed_ms": round(exposed * 1e3, 1),
            "hidden_share": round(1 - exposed / full, 2) if full else 1.0,
            "efficiency": round(step_s / (step_s + exposed), 3),
            "img_per_s_total": round(gpus * batch / (step_s + exposed), 1),
        })
    return {
        "size": f"{width}x{height}", "enhancers": enhancers, "ngf": ngf, "batch_per_gpu": batch,
        "gflop_per_sample": round(total / batch / 1e9), "grad_mbytes": round(grad_bytes / 1e6),
        "step_ms_one_gpu": round(step_s * 1e3, 1), "rows": rows,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--peak-tflops", type=float, default=PEAKS["H200"][0], help="dense bf16 peak of one GPU")
    parser.add_argument("--mfu", type=float, default=0.35, help="share of the peak one GPU's step reaches")
    parser.add_argument("--nvlink-gbs", type=float, default=360.0, help="NCCL all-reduce bus bandwidth in a node, GB/s")
    parser.add_argument("--ib-gbps", type=float, default=400.0, help="InfiniBand line rate per GPU, Gb/s")
    parser.add_argument("--ib-efficiency", type=float, default=0.8, help="share of line rate NCCL reaches")
    parser.add_argument("--latency-us", type=float, default=30.0, help="fixed cost per all-reduce call")
    parser.add_argument("--num-d", type=int, default=3)
    parser.add_argument("--gpus", nargs="+", type=int, default=[8, 32, 128])
    parser.add_argument("--batch-1024x512", dest="batch_512p", type=int, default=8, help="per-GPU batch, global generator ngf 64")
    parser.add_argument("--batch-2048x1024", dest="batch_1024p", type=int, default=2, help="per-GPU batch, 1 enhancer, ngf 32")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    configs = [((1024, 512), 0, 64, args.batch_512p), ((2048, 1024), 1, 32, args.batch_1024p)]
    result = {"assumptions": {k: v for k, v in vars(args).items() if k != "gpus"},
              "configs": [estimate(args, *config) for config in configs]}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
