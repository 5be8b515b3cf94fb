"""One training step side by side with NVIDIA's pix2pixHD, in alternating processes on the same machine.

    git clone https://github.com/NVIDIA/pix2pixHD /somewhere/pix2pixHD      # never into this repository
    python benchmarks/official_step.py --official-repo /somewhere/pix2pixHD                 # CPU, 512x256
    python benchmarks/official_step.py --official-repo /somewhere/pix2pixHD --rounds 3 --repeats 5
    python benchmarks/official_step.py --official-repo /somewhere/pix2pixHD --profile runs/profile

The official side is the repository's own model code (``models/``, ``options/``, ``util/``) copied
into a temporary folder and patched there to run on the CPU: ``.cuda()`` calls and
``torch.cuda.*Tensor`` types removed, and, where torchvision is not installed, a stand-in
``torchvision.models.vgg19`` with torchvision's VGG19 layout (random weights, as on our side; the
official VGG19 is frozen, so its weights do not change the work). Nothing of it is kept or
committed (its licence forbids copying). Its step is ``train.py``'s loop body: the model's forward
(generator, discriminator on the detached fake, the real and the fake, GAN + feature-matching + VGG
losses), then ``loss_G.backward(); optimizer_G.step()`` and ``loss_D.backward(); optimizer_D.step()``.

Our side is ``benchmarks/train_step.py --skip-eager`` (``Pix2PixHDModule`` under a Lightning Trainer,
what ``hrgan fit`` runs) at the same config: global generator (ngf 64, 4 downsamplings, 9 blocks),
35 classes + instance edges, ``--num-d`` discriminator scales (ndf 64, 3 layers), LSGAN + feature
matching + VGG, Adam, batch 1, fp32. Each round runs both in fresh processes, the order alternating
between rounds; each process does ``--warmup`` steps, then times ``--repeats`` (wall time, and the
process's CPU time, which neighbours on a shared machine disturb less). Also reported:
parameter counts of both sides and the largest difference between the official generator's output
and ours with its weights imported (``hrgan.models.official``) on one fixed input.

Without ``--official-repo`` it says how to get the checkout and exits 0 (nothing to compare).
Prints one JSON object; ``--out FILE`` also writes it there.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
from hrgan.commands.common import parse_size  # noqa: E402  (no torch: --help stays instant)
LABEL_NC = 35
OFFICIAL_FOLDERS = ("models", "options", "util")
# Edits that make the official model code run without CUDA; each must match at least once.
CPU_PATCHES = (
    (r"\.cuda\([^()]*\)", ""),
    (r"torch\.cuda\.(Float|Byte|Long|HalfTensor)", r"torch.\1"),
    (r"assert\s*\(?\s*torch\.cuda\.is_available\(\)\s*\)?", "pass"),
)
# torchvision's vgg19().features layout, for a machine without torchvision.
TORCHVISION_STANDIN = '''
"""Stand-in for torchvision.models.vgg19 (layout only, random weights), written by hrgan's benchmark."""
import torch.nn as nn
_CFG = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M")
class _VGG(nn.Module):
    def __init__(self):
        super().__init__()
        layers, c = [], 3
        for v in _CFG:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(c, v, 3, padding=1), nn.ReLU(inplace=True)]
                c = v
        self.features = nn.Sequential(*layers)
def vgg19(pretrained=False, **kwargs):
    return _VGG()
'''


def prepare_official(repo: Path, into: Path) -> Path:
    """Copy the official model code into ``into`` and patch it to run on the CPU; returns the copy."""
    missing = [f for f in OFFICIAL_FOLDERS if not (repo / f).is_dir()]
    if missing:
        raise SystemExit(f"{repo}: not a pix2pixHD checkout (no {', '.join(missing)}/)")
    code = into / "pix2pixHD"
    for folder in OFFICIAL_FOLDERS:
        shutil.copytree(repo / folder, code / folder)
    hits = [0] * len(CPU_PATCHES)
    for path in sorted(code.rglob("*.py")):
        text = path.read_text()
        for i, (pattern, replacement) in enumerate(CPU_PATCHES):
            text, n = re.subn(pattern, replacement, text)
            hits[i] += n
        path.write_text(text)
    unused = [p for (p, _), n in zip(CPU_PATCHES, hits) if n == 0]
    if unused:
        raise SystemExit(f"{repo}: the official code changed, these CPU patches no longer apply: {unused}")
    try:
        import torchvision  # noqa: F401
    except ImportError:
        (code / "torchvision").mkdir()
        (code / "torchvision" / "__init__.py").write_text("from . import models\n")
        (code / "torchvision" / "models.py").write_text(TORCHVISION_STANDIN)
    return code


def official_model(code: Path, args, scratch: Path):
    """The official Pix2PixHDModel built from its own option parser, on the CPU."""
    sys.path.insert(0, str(code))
    from models.models import create_model
    from options.train_options import TrainOptions

    width, height = args.size
    sys.argv = ["train.py", "--name", "bench", "--gpu_ids", "-1", "--checkpoints_dir", str(scratch),
                "--label_nc", str(LABEL_NC), "--netG", "global", "--ngf", str(args.ngf), "--num_D", str(args.num_d),
                "--batchSize", str(args.batch), "--loadSize", str(width), "--fineSize", str(width), "--no_html"]
    stdout, sys.stdout = sys.stdout, sys.stderr  # the option parser prints every option
    try:
        opt = TrainOptions().parse(save=False)
        model = create_model(opt)
    finally:
        sys.stdout = stdout
    return model


def official_batch(args):
    import torch

    width, height = args.size
    g = torch.Generator().manual_seed(0)
    label = torch.randint(0, LABEL_NC, (args.batch, 1, height, width), generator=g).float()
    inst = torch.randint(0, 30, (args.batch, 1, height, width), generator=g).float()
    image = torch.rand(args.batch, 3, height, width, generator=g) * 2 - 1
    return label, inst, image


def official_step(model, batch) -> None:
    """train.py's loop body (fp32, one process, no DataParallel)."""
    import torch

    label, inst, image = batch
    losses, _ = model(label, inst, image, 0, infer=False)
    losses = [torch.mean(x) if not isinstance(x, int) else x for x in losses]
    loss_dict = dict(zip(model.loss_names, losses))
    loss_d = (loss_dict["D_fake"] + loss_dict["D_real"]) * 0.5
    loss_g = loss_dict["G_GAN"] + loss_dict.get("G_GAN_Feat", 0) + loss_dict.get("G_VGG", 0)
    model.optimizer_G.zero_grad()
    loss_g.backward()
    model.optimizer_G.step()
    model.optimizer_D.zero_grad()
    loss_d.backward()
    model.optimizer_D.step()


def parity(model, args) -> dict:
    """Parameter counts of both sides; the official G's output against ours with its weights imported."""
    import torch

    sys.path.insert(0, str(REPO))
    from hrgan.models import MultiscaleDiscriminator
    from hrgan.models.official import build_from_pix2pixhd

    def count(net):
        return sum(p.numel() for p in net.parameters())

    ours_g = build_from_pix2pixhd(model.netG.state_dict()).eval()
    ours_d = MultiscaleDiscriminator(in_channels=LABEL_NC + 1 + 3, ndf=64, n_layers=3, num_D=args.num_d)
    width, height = args.size
    x = torch.rand(1, LABEL_NC + 1, height, width, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        difference = (model.netG.eval()(x) - ours_g(x)).abs().max().item()
    model.netG.train()
    return {"official_G_params": count(model.netG), "ours_G_params": count(ours_g),
            "official_D_params": count(model.netD), "ours_D_params": count(ours_d),
            "G_output_max_abs_diff": difference}


def run_official(args) -> dict:
    """Time the official step in this process (``--part official``)."""
    import torch

    with tempfile.TemporaryDirectory(prefix="pix2pixhd-") as tmp:
        code = prepare_official(Path(args.official_repo), Path(tmp))
        model = official_model(code, args, Path(tmp) / "checkpoints")
        batch = official_batch(args)
        times, cpu_times = [], []
        for i in range(args.warmup + args.repeats):
            start, cpu_start = time.perf_counter(), time.process_time()
            official_step(model, batch)
            if i >= args.warmup:
                times.append(time.perf_counter() - start)
                cpu_times.append(time.process_time() - cpu_start)
        if args.profile:
            profile_steps(lambda: official_step(model, batch), Path(args.profile) / "official.txt")
        result = {"s_per_step": summary(times), "cpu_s_per_step": round(statistics.median(cpu_times), 3),
                  "threads": torch.get_num_threads()}
        result.update(parity(model, args))
    return result


def profile_steps(step, out: Path) -> None:
    """One profiled step: the top operators by self CPU time, written to ``out``."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        step()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=40))


def run_ours(args) -> dict:
    """Our step through benchmarks/train_step.py in a fresh process."""
    command = [sys.executable, str(HERE / "train_step.py"), "--size", f"{args.size[0]}x{args.size[1]}",
               "--ngf", str(args.ngf), "--num-d", str(args.num_d), "--batch", str(args.batch),
               "--warmup", str(args.warmup), "--repeats", str(args.repeats), "--skip-eager", *args.ours_args]
    if args.profile:
        command += ["--profile", str(Path(args.profile) / "ours.txt")]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"train_step.py failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return {"s_per_step": result["ours"]["s_per_step"], "cpu_s_per_step": result["ours"]["cpu_s_per_step"],
            "command": " ".join(command[1:])}


def run_part_process(part: str) -> dict:
    done = subprocess.run([sys.executable, __file__, *sys.argv[1:], "--part", part], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"the {part} step failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def summary(times: list[float]) -> dict:
    return {"median": round(statistics.median(times), 3), "min": round(min(times), 3), "max": round(max(times), 3)}



def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--official-repo", help="a checkout of github.com/NVIDIA/pix2pixHD (outside this repository)")
    parser.add_argument("--size", type=parse_size, default=(512, 256), help="WIDTHxHEIGHT (default 512x256)")
    parser.add_argument("--ngf", type=int, default=64)
    parser.add_argument("--num-d", type=int, default=2, help="discriminator scales (default 2, the official default)")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2, help="official/ours pairs, the order alternating")
    parser.add_argument("--ours-args", nargs=argparse.REMAINDER, default=[],
                        help="extra train_step.py options for our side (last on the line)")
    parser.add_argument("--profile", help="folder for one profiled step of each side (official.txt, ours.txt)")
    parser.add_argument("--out", help="also write the JSON here")
    parser.add_argument("--part", choices=("official", "ours"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.part:
        import warnings

        warnings.filterwarnings("ignore")
        print(json.dumps(run_official(args) if args.part == "official" else run_ours(args)))
        return 0
    if not args.official_repo:
        print("skipped: no --official-repo; clone github.com/NVIDIA/pix2pixHD outside this repository and pass its path")
        return 0
    if not Path(args.official_repo).is_dir():
        parser.error(f"--official-repo {args.official_repo}: no such folder")
    missing = [f for f in OFFICIAL_FOLDERS if not (Path(args.official_repo) / f).is_dir()]
    if missing:
        parser.error(f"--official-repo {args.official_repo}: not a pix2pixHD checkout (no {', '.join(missing)}/)")
    rounds = []
    for r in range(args.rounds):
        order = ("official", "ours") if r % 2 == 0 else ("ours", "official")
        results = {part: run_part_process(part) for part in order}
        ratio = results["ours"]["s_per_step"]["median"] / results["official"]["s_per_step"]["median"]
        cpu_ratio = results["ours"]["cpu_s_per_step"] / results["official"]["cpu_s_per_step"]
        rounds.append({"order": list(order), **results, "ours_over_official": round(ratio, 3),
                       "ours_over_official_cpu": round(cpu_ratio, 3)})
        print(f"round {r + 1}: official {results['official']['s_per_step']['median']} s, "
              f"ours {results['ours']['s_per_step']['median']} s, ours/official {ratio:.3f} (CPU time {cpu_ratio:.3f})",
              file=sys.stderr)
    report = {
        "config": {"size": list(args.size), "ngf": args.ngf, "num_d": args.num_d, "batch": args.batch,
                   "warmup": args.warmup, "repeats": args.repeats, "ours_args": args.ours_args,
                   "threads": os.environ.get("OMP_NUM_THREADS")},
        "rounds": rounds,
        "ours_over_official_median": round(statistics.median(r["ours_over_official"] for r in rounds), 3),
        "ours_over_official_cpu_median": round(statistics.median(r["ours_over_official_cpu"] for r in rounds), 3),
        "parity": {k: v for k, v in rounds[0]["official"].items() if k not in ("s_per_step", "threads")},
    }
    text = json.dumps(report, indent=1)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
