"""Full training-step throughput: hrgan's LightningModule against a plain eager loop of the same networks and losses.

    python benchmarks/train_step.py                                  # CPU, 512x256, batch 1, fp32, global ngf 64
    python benchmarks/train_step.py --device cuda --size 1024x512 --precision bf16 --batch 8
    python benchmarks/train_step.py --device cuda --size 2048x1024 --enhancers 1 --ngf 32 --precision bf16
    python benchmarks/train_step.py --family pix2pix --size 256x256 --batch 1      # U-Net 256 + PatchGAN, GAN + L1

With ``--family pix2pix`` the networks are pix2pix's (``UNetGenerator`` unet_256 at --ngf,
the batch-norm PatchGAN with one scale) on image inputs, the losses vanilla GAN + L1 100
(``configs/pix2pix_facades.yaml``); --enhancers, --num-d and the VGG loss do not apply.
With ``--family spade`` they are SPADE's (``SPADEGenerator`` at --ngf, the spectral-norm discriminator
over --num-d scales) with hinge GAN + feature matching + VGG (``configs/spade_cityscapes.yaml``).

One step = G forward, the discriminator on real and fake (3 passes over num_D
scales), GAN + feature-matching + VGG losses, both backward passes and both Adam
steps (plus the generator EMA with --ema-decay 0.999; the eager loop has none).
"ours" runs Pix2PixHDModule under a Lightning Trainer (what `hrgan fit` runs,
data already in memory, with the HostMemory callback hrgan fit adds); "eager" is a
hand-written loop of the same order with the same networks, plain Adam, no
Lightning (and, on the CPU, the same host-memory setting). Each runs in its own process:
warm-up steps, then the median (min, max) of --repeats timed steps, and the peak
memory. FLOPs per sample come from torch.utils.flop_counter on one eager step run
on fake tensors (shapes only); MFU divides achieved FLOP/s by --peak-tflops (default: the device's
dense bf16/fp32 peak from a small table, none on CPU). VGG19 has random weights
(speed only). Prints one JSON object.
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
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import pytorch_lightning as pl  # noqa: E402

from hrgan.conditioning import build_generator_input  # noqa: E402
from hrgan.losses import GANLoss, VGGLoss, feature_matching_loss  # noqa: E402
from hrgan.models import (MultiscaleDiscriminator, Pix2PixHDGenerator, SPADEGenerator, UNetGenerator,  # noqa: E402
                          set_activation_checkpointing)
from hrgan.training.host_memory import HostMemory, keep_freed_host_memory  # noqa: E402
from hrgan.training.pix2pixhd_module import Pix2PixHDModule  # noqa: E402
from hrgan.training.recipe import QUIET, hrgan_trainer  # noqa: E402
from hrgan.training.schedule import ProgressiveSchedule, Stage  # noqa: E402

LABEL_NC = 35
# Dense peak TFLOP/s (bf16, fp32 without TF32) from the vendors' data sheets.
PEAKS = {"H200": (989.0, 67.0), "H100": (989.0, 67.0), "A100": (312.0, 19.5), "L40S": (362.0, 91.6)}


def networks(args) -> tuple[Pix2PixHDGenerator | UNetGenerator | SPADEGenerator, MultiscaleDiscriminator]:
    if args.family == "spade":
        return (SPADEGenerator(in_channels=LABEL_NC + 1, ngf=args.ngf),
                MultiscaleDiscriminator(in_channels=LABEL_NC + 1 + 3, num_D=args.num_d, spectral=True))
    if args.family == "pix2pix":
        return (UNetGenerator(in_channels=3, ngf=args.ngf),
                MultiscaleDiscriminator(in_channels=6, num_D=1, norm="batch", padding=1, weight_init="pix2pix"))
    generator = Pix2PixHDGenerator(in_channels=LABEL_NC + 1, ngf=args.ngf, n_local_enhancers=args.enhancers,
                                   keep_coarse_heads=args.enhancers > 0)
    discriminator = MultiscaleDiscriminator(in_channels=LABEL_NC + 1 + 3, ndf=64, n_layers=3, num_D=args.num_d)
    return generator, discriminator


def random_batch(args, device) -> dict:
    width, height = args.size
    g = torch.Generator().manual_seed(0)
    if args.family == "pix2pix":
        return {"input": (torch.rand(args.batch, 3, height, width, generator=g) * 2 - 1).to(device),
                "image": (torch.rand(args.batch, 3, height, width, generator=g) * 2 - 1).to(device)}
    return {
        "label": torch.randint(0, LABEL_NC, (args.batch, height, width), generator=g).to(device),
        "inst": torch.randint(0, 30, (args.batch, height, width), generator=g, dtype=torch.int32).to(device),
        "image": (torch.rand(args.batch, 3, height, width, generator=g) * 2 - 1).to(device),
    }


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


class StepTimer(pl.Callback):
    """Wall time and this process's CPU time of every training batch."""

    def __init__(self, device: str) -> None:
        self.device, self.times, self.cpu_times, self._start = device, [], [], (0.0, 0.0)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        sync(self.device)
        self._start = (time.perf_counter(), time.process_time())

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        sync(self.device)
        self.times.append(time.perf_counter() - self._start[0])
        self.cpu_times.append(time.process_time() - self._start[1])


class ProfileLastStep(pl.Callback):
    """Profile the last training batch (both optimizer steps) and write the top operators to ``path``."""

    def __init__(self, last_batch: int, path: str) -> None:
        self.last_batch, self.path, self._profiler = last_batch, Path(path), None

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if batch_idx == self.last_batch:
            self._profiler = torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU])
            self._profiler.__enter__()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if self._profiler is not None:
            self._profiler.__exit__(None, None, None)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text(self._profiler.key_averages().table(sort_by="self_cpu_time_total", row_limit=40))
            self._profiler = None


def time_ours(args, device: str) -> tuple[list[float], list[float]]:
    generator, discriminator = networks(args)
    steps = args.warmup + args.repeats + (1 if args.profile else 0)
    pix2pix = args.family == "pix2pix"
    stage = Stage(resolution=args.size, n_enhancers=args.enhancers if args.family == "pix2pixhd" else 0, num_D=1 if pix2pix else args.num_d,
                  batch_size=args.batch, steps=steps)
    family = (dict(label_nc=0, use_instance_edges=False, gan_mode="vanilla", use_feat_loss=False, use_vgg_loss=False,
                   lambda_l1=100.0) if args.family == "pix2pix" else dict(label_nc=LABEL_NC, use_vgg_loss=args.vgg))
    if args.family == "spade":
        family |= {"gan_mode": "hinge", "gan_scale_reduction": "mean"}
    module = Pix2PixHDModule(
        generator=generator, discriminator=discriminator, schedule=ProgressiveSchedule([stage]), **family,
        vgg_weights="random", channels_last=args.channels_last, ema_decay=args.ema_decay,
        compile=args.compile, activation_checkpointing=args.activation_checkpointing, fused_adam=args.fused_adam,
    )
    batch = random_batch(args, "cpu")
    timer = StepTimer(device)
    callbacks = [timer, HostMemory()] + ([ProfileLastStep(steps - 1, args.profile)] if args.profile else [])
    trainer = hrgan_trainer(
        **QUIET, accelerator="gpu" if device.startswith("cuda") else "cpu", devices=1, max_steps=2 * steps,
        limit_val_batches=0, precision="bf16-mixed" if args.precision == "bf16" else "32-true", callbacks=callbacks,
    )
    trainer.fit(module, torch.utils.data.DataLoader([batch] * (steps + 1), batch_size=None))
    timed = slice(args.warmup, args.warmup + args.repeats)
    return timer.times[timed], timer.cpu_times[timed]


def eager_step(G, D, vgg, gan, opt_g, opt_d, batch, args, *, validate: bool = True):
    """Our step's order without Lightning: G forward and D on the real once; the G step (D frozen), then the
    D step on the detached fake (G untouched)."""
    autocast = torch.autocast(batch["image"].device.type, dtype=torch.bfloat16, enabled=args.precision == "bf16")
    pix2pix = args.family == "pix2pix"
    with autocast:
        if pix2pix:
            cond = batch["input"]
        else:
            cond = build_generator_input(batch["label"], label_nc=LABEL_NC, instance=batch["inst"], validate=validate)
        real = batch["image"]
        fake = G(cond) if args.family != "pix2pixhd" else G(cond, n_active_enhancers=args.enhancers)
        d_real = D(torch.cat([cond, real], 1))
        D.requires_grad_(False)
        d_fake = D(torch.cat([cond, fake], 1))
        loss_g = gan(d_fake, target_real=True, for_discriminator=False)
        loss_g = loss_g + (100 * F.l1_loss(fake, real) if pix2pix else 10 * feature_matching_loss(d_fake, d_real))
        if vgg is not None:
            loss_g = loss_g + 10 * vgg(fake, real)
    loss_g.backward()
    opt_g.step()
    opt_g.zero_grad(set_to_none=True)
    D.requires_grad_(True)
    with autocast:
        d_fake = D(torch.cat([cond, fake.detach()], 1))
        loss_d = 0.5 * (gan(d_real, target_real=True) + gan(d_fake, target_real=False))
    loss_d.backward()
    opt_d.step()
    opt_d.zero_grad(set_to_none=True)
    return loss_g.detach()


def eager_parts(args, device: str | None) -> tuple:
    """G, D, the VGG loss (or None) and both Adams for ``eager_step``; ``device`` None leaves them where
    they were made (fake tensors). ``args.ac`` (when present) recomputes the residual blocks."""
    generator, discriminator = networks(args)
    vgg = VGGLoss(weights="random", allow_download=False) if args.vgg and args.family != "pix2pix" else None
    if device is not None:
        generator, discriminator, vgg = (m.to(device) if m is not None else None for m in (generator, discriminator, vgg))
    set_activation_checkpointing(generator, getattr(args, "ac", False))
    opt_g = torch.optim.Adam(generator.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=2e-4, betas=(0.5, 0.999))
    return generator, discriminator, vgg, opt_g, opt_d


def run_eager_step(parts: tuple, batch: dict, args, *, validate: bool = True):
    G, D, vgg, opt_g, opt_d = parts
    gan = GANLoss({"pix2pix": "vanilla", "spade": "hinge"}.get(args.family, "lsgan"),
                  scale_reduction="mean" if args.family == "spade" else "sum")
    return eager_step(G, D, vgg, gan, opt_g, opt_d, batch, args, validate=validate)


def time_eager(args, device: str) -> tuple[list[float], list[float]]:
    if device == "cpu":
        keep_freed_host_memory()  # as HostMemory does for ours: the comparison is Lightning's overhead alone
    parts = eager_parts(args, device)
    batch = random_batch(args, device)
    times, cpu_times = [], []
    for i in range(args.warmup + args.repeats):
        sync(device)
        start, cpu_start = time.perf_counter(), time.process_time()
        run_eager_step(parts, batch, args)
        sync(device)
        if i >= args.warmup:
            times.append(time.perf_counter() - start)
            cpu_times.append(time.process_time() - cpu_start)
    return times, cpu_times


def flops_per_sample(args) -> float:
    """FLOPs of one step, counted on fake tensors (shapes only, instant on any machine)."""
    from torch._subclasses.fake_tensor import FakeTensorMode

    with FakeTensorMode():
        parts = eager_parts(args, None)
        batch = random_batch(args, "cpu")
        counter = FlopCounterMode(display=False)
        with counter:
            run_eager_step(parts, batch, args, validate=False)
    return counter.get_total_flops() / args.batch


def summary(times: list[float], batch: int, cpu_times: list[float]) -> dict:
    """Throughput and step time (median, min, max); CPU seconds of this process per step (all threads)."""
    median = statistics.median(times)
    return {"img_per_s": round(batch / median, 4), "s_per_step": {
        "median": round(median, 4), "min": round(min(times), 4), "max": round(max(times), 4)},
        "cpu_s_per_step": round(statistics.median(cpu_times), 4)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--family", choices=("pix2pixhd", "pix2pix", "spade"), default="pix2pixhd",
                        help="pix2pixHD's networks and losses, pix2pix's (U-Net 256 + PatchGAN, image inputs, GAN + L1) "
                             "or SPADE's (hinge + feature matching + VGG)")
    parser.add_argument("--size", type=lambda t: tuple(int(v) for v in t.split("x")), default=(512, 256), help="WIDTHxHEIGHT")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--precision", choices=("32", "bf16"), default="32")
    parser.add_argument("--ngf", type=int, default=64)
    parser.add_argument("--enhancers", type=int, default=0)
    parser.add_argument("--num-d", type=int, default=3)
    parser.add_argument("--no-vgg", dest="vgg", action="store_false")
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--compile", action="store_true", help="ours with model.compile")
    parser.add_argument("--activation-checkpointing", action="store_true", help="ours with the residual blocks recomputed")
    parser.add_argument("--no-fused-adam", dest="fused_adam", action="store_false",
                        help="ours without fused Adam kernels on CUDA")
    parser.add_argument("--ema-decay", type=float, default=0.0, help="ours with the generator EMA (0: off, as the eager loop)")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--skip-eager", action="store_true", help="time only ours")
    parser.add_argument("--peak-tflops", type=float, help="device peak for MFU (default: from the table, GPUs only)")
    parser.add_argument("--profile", help="ours: profile one more step and write its top operators to this file")
    parser.add_argument("--part", choices=("ours", "eager"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    if args.part:
        print(json.dumps(run_part(args)))
        return 0
    result = {"config": {k: v for k, v in vars(args).items() if k not in ("peak_tflops", "part")}}
    # Each part in a fresh process: neither inherits the other's heap, caches or compiled code.
    for part in ("ours",) if args.skip_eager else ("ours", "eager"):
        done = subprocess.run([sys.executable, __file__, *sys.argv[1:], "--part", part], capture_output=True, text=True)
        sys.stderr.write(done.stderr[-3000:])  # warnings too (e.g. dynamo's recompile limit), even on success
        if done.returncode != 0:
            return done.returncode
        result[part] = json.loads(done.stdout.strip().splitlines()[-1])
    hardware = result["ours"].pop("hardware")
    flops = flops_per_sample(args)
    achieved = flops * result["ours"]["img_per_s"] / 1e12
    peak = args.peak_tflops
    if args.device.startswith("cuda"):
        peak = peak or next((p[0 if args.precision == "bf16" else 1] for k, p in PEAKS.items() if k in hardware), None)
    result.update(hardware=hardware, gflop_per_sample=round(flops / 1e9, 1), achieved_tflops=round(achieved, 3),
                  mfu=round(achieved / peak, 4) if peak else None, torch=torch.__version__)
    if "eager" in result:
        result["eager"].pop("hardware")
        result["ours_over_eager_time"] = round(result["ours"]["s_per_step"]["median"] / result["eager"]["s_per_step"]["median"], 3)
    print(json.dumps(result))
    return 0


def run_part(args) -> dict:
    """Time ours or the eager loop in this process; with its peak memory and the hardware's name."""
    torch.backends.cudnn.benchmark = True
    times, cpu_times = (time_ours if args.part == "ours" else time_eager)(args, args.device)
    result = summary(times, args.batch, cpu_times)
    if args.device.startswith("cuda"):
        result["peak_mem_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
        result["hardware"] = torch.cuda.get_device_name()
    else:
        result["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        result["hardware"] = f"{platform.machine()} CPU, {torch.get_num_threads()} threads"
    return result


if __name__ == "__main__":
    sys.exit(main())
