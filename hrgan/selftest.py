"""``hrgan selftest``: a few tiny pix2pixHD training steps end to end, to check an installation.

Builds a small generator (global + one local enhancer) and a two-scale
discriminator, draws a random blocky label/instance scene, and alternates
D and G steps with the GAN, feature-matching and (when its weights are found
locally) VGG losses. Writes ``selftest.json`` (losses per step, timings,
parameter counts) and ``sample.png`` (labels | generated | target) to --out.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import time
from pathlib import Path

import torch

from hrgan.arguments import parse_size
from hrgan.conditioning import build_generator_input, input_channels
from hrgan.io import write_bytes_atomic
from hrgan.losses import GANLoss, VGGLoss, feature_matching_loss
from hrgan.models import MultiscaleDiscriminator, Pix2PixHDGenerator
from hrgan.pretrained import find_cached_vgg19
from hrgan.visualize import colorize_labels, default_palette, image_to_uint8, save_png, side_by_side


def random_scene(
    *, height: int, width: int, label_nc: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A blocky scene: label [1, H, W], instance [1, H, W] and a target photo [1, 3, H, W] in [-1, 1]."""
    cells = 4
    cell_labels = torch.randint(0, label_nc, (cells, cells * 2), generator=generator)
    label = cell_labels.repeat_interleave(height // cells, 0).repeat_interleave(width // (cells * 2), 1)
    instance = torch.arange(cells * cells * 2).view(cells, cells * 2)
    instance = instance.repeat_interleave(height // cells, 0).repeat_interleave(width // (cells * 2), 1)
    colours = torch.rand(label_nc, 3, generator=generator) * 2 - 1
    photo = colours[label].permute(2, 0, 1)
    ramp = torch.linspace(-0.2, 0.2, height).view(1, height, 1)
    photo = (photo + ramp).clamp(-1, 1)
    return label[None], instance[None], photo[None]


def run(*, out: Path, width: int, height: int, steps: int, device: str, seed: int) -> dict:
    """Run the self-test and return the report written to ``selftest.json``."""
    torch.manual_seed(seed)
    dev = torch.device(device)
    label_nc = 8
    label, instance, photo = random_scene(
        height=height, width=width, label_nc=label_nc, generator=torch.Generator().manual_seed(seed)
    )
    label, instance, photo = label.to(dev), instance.to(dev), photo.to(dev)
    in_ch = input_channels(label_nc, use_instance_edges=True)
    generator = Pix2PixHDGenerator(in_channels=in_ch, ngf=8, n_downsample_global=3, n_blocks_global=3, n_blocks_local=1)
    discriminator = MultiscaleDiscriminator(in_channels=in_ch + 3, ndf=8, num_D=2)
    generator.to(dev)
    discriminator.to(dev)
    gan = GANLoss("lsgan")
    vgg = VGGLoss(weights="auto", allow_download=False).to(dev) if find_cached_vgg19() else None
    opt_g = torch.optim.Adam(generator.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=2e-4, betas=(0.5, 0.999))
    cond = build_generator_input(label, label_nc=label_nc, instance=instance)

    history = []
    start = time.perf_counter()
    for _ in range(steps):
        fake = generator(cond)
        # D step: real vs detached fake.
        discriminator.requires_grad_(True)
        d_real = discriminator(torch.cat([cond, photo], 1))
        d_fake = discriminator(torch.cat([cond, fake.detach()], 1))
        loss_d = 0.5 * (gan(d_real, target_real=True) + gan(d_fake, target_real=False))
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        # G step: D frozen, so no D weight gradients are computed.
        discriminator.requires_grad_(False)
        d_fake = discriminator(torch.cat([cond, fake], 1))
        losses = {"gan": gan(d_fake, target_real=True, for_discriminator=False)}
        losses["feat"] = 10.0 * feature_matching_loss(d_fake, [[f.detach() for f in s] for s in d_real])
        if vgg is not None:
            losses["vgg"] = 10.0 * vgg(fake, photo)
        loss_g = sum(losses.values())
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        history.append({"D": loss_d.item(), **{f"G/{k}": v.item() for k, v in losses.items()}})
    seconds = time.perf_counter() - start

    finite = all(math.isfinite(v) for step in history for v in step.values())
    report = {
        "ok": finite,
        "device": str(dev),
        "size": f"{width}x{height}",
        "steps": steps,
        "seconds_per_step": seconds / max(steps, 1),
        "vgg_loss": "on (cached weights)" if vgg is not None else "off (no local VGG19 weights; see 'hrgan env')",
        "parameters": {
            "generator": sum(p.numel() for p in generator.parameters()),
            "discriminator": sum(p.numel() for p in discriminator.parameters()),
        },
        "losses": history,
    }
    out.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(out / "selftest.json", json.dumps(report, indent=2).encode())
    with torch.no_grad():
        sample = generator(cond)[0]
    palette = default_palette(label_nc)
    save_png(out / "sample.png", side_by_side(colorize_labels(label[0], palette), image_to_uint8(sample), image_to_uint8(photo[0])))
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="hrgan selftest", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=Path("runs/selftest"), help="output folder (default: %(default)s)")
    parser.add_argument("--size", type=functools.partial(parse_size, multiple=32), default=(128, 64), help="WIDTHxHEIGHT, multiples of 32 (default: 128x64)")
    parser.add_argument("--steps", type=int, default=10, help="training steps (default: %(default)s)")
    parser.add_argument(
        "--device", default="cuda" if torch.cuda.is_available() else "cpu", help="cpu or cuda (default: %(default)s)"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    args = parser.parse_args(argv)
    report = run(out=args.out, width=args.size[0], height=args.size[1], steps=args.steps, device=args.device, seed=args.seed)
    first, last = report["losses"][0], report["losses"][-1]
    print(f"device {report['device']}, {report['steps']} steps at {report['size']}, {report['seconds_per_step']:.3f} s/step")
    print(f"VGG loss: {report['vgg_loss']}")
    print("losses first -> last: " + ", ".join(f"{k} {first[k]:.3f} -> {last[k]:.3f}" for k in first))
    print(f"wrote {args.out / 'selftest.json'} and {args.out / 'sample.png'}")
    if not report["ok"]:
        print("selftest FAILED: a loss is not finite")
        return 1
    return 0
