"""Our pix2pix networks beside junyanz/pytorch-CycleGAN-and-pix2pix's own (whose code is never in this repository).

    git clone https://github.com/junyanz/pytorch-CycleGAN-and-pix2pix /somewhere/p2p   # never into this repository
    python benchmarks/pix2pix_parity.py --reference-repo /somewhere/p2p [--ngf 64] [--out parity.json]

The reference's ``models/networks.py`` is copied into a temporary folder and imported from there
(nothing of it is kept or committed: its licence). It builds pix2pix's networks as ``define_G`` /
``define_D`` do, with ``init_weights(net, "normal", 0.02)``: unet_256 and unet_128 (3 -> 3 channels,
batch norm, dropout) and ``NLayerDiscriminator(6, ndf, 3, nn.BatchNorm2d)`` ('basic'). Each
reference state dict is imported into ours with ``convert_pix2pix_state_dict`` (strict), and both
run on one fixed input: a train-mode forward (same seed, so the same dropout masks; batch statistics,
which also update the running ones) and then an eval-mode forward. Reported per network: parameter
counts, the largest absolute output differences, and the largest eval output for scale (the
N(0, 0.02) init keeps outputs small). The two sides compute the same operations in the same order,
so the differences are expected to be exactly 0.

Prints a table on stderr and one JSON object on stdout (``--out FILE`` also writes it there). Exits 1
when counts differ or a difference exceeds ``--tolerance``; without ``--reference-repo`` it says how
to get the checkout and exits 0 (nothing to compare).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
REFERENCE_FILE = Path("models") / "networks.py"


def load_reference(repo: Path, into: Path):
    """The reference's ``models/networks.py``, copied into ``into`` and imported as a module."""
    copy = into / "pix2pix_reference_networks.py"
    shutil.copyfile(repo / REFERENCE_FILE, copy)
    spec = importlib.util.spec_from_file_location("pix2pix_reference_networks", copy)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def compare(name: str, reference, ours, x, *, seed: int = 0) -> dict:
    """Import ``reference``'s weights into ``ours``; outputs in train then eval mode on ``x``."""
    import torch

    from hrgan.models import convert_pix2pix_state_dict

    ours.load_state_dict(convert_pix2pix_state_dict(reference.state_dict()), strict=True)

    def output(net):
        out = net(x.clone())  # the reference's in-place activations must not touch the shared input
        return out[0][-1] if isinstance(out, list) else out

    diffs = {}
    for mode in ("train", "eval"):
        outputs = []
        for net in (reference, ours):
            net.train(mode == "train")
            torch.manual_seed(seed)
            with torch.no_grad():
                outputs.append(output(net))
        diffs[f"{mode}_max_abs_diff"] = (outputs[0] - outputs[1]).abs().max().item()
    count = lambda net: sum(p.numel() for p in net.parameters())  # noqa: E731
    return {"network": name, "reference_params": count(reference), "ours_params": count(ours),
            "output_shape": list(outputs[1].shape), "eval_output_max_abs": outputs[1].abs().max().item(), **diffs}


def run(repo: Path, ngf: int) -> list[dict]:
    import torch
    from torch import nn

    sys.path.insert(0, str(REPO))
    from hrgan.models import MultiscaleDiscriminator, UNetGenerator

    rows = []
    with tempfile.TemporaryDirectory(prefix="pix2pix-") as tmp:
        ref = load_reference(repo, Path(tmp))
        gen = torch.Generator().manual_seed(1)
        for name, num_downs in (("unet_256", 8), ("unet_128", 7)):
            torch.manual_seed(0)
            norm_layer = ref.get_norm_layer("batch")
            reference = ref.UnetGenerator(3, 3, num_downs, ngf, norm_layer=norm_layer, use_dropout=True)
            with contextlib.redirect_stdout(sys.stderr):  # init_weights prints
                ref.init_weights(reference, "normal", 0.02)
            ours = UNetGenerator(in_channels=3, out_channels=3, num_downs=num_downs, ngf=ngf)
            x = torch.rand(1, 3, 2**num_downs, 2**num_downs, generator=gen) * 2 - 1
            rows.append(compare(name, reference, ours, x))
        reference = ref.NLayerDiscriminator(6, ngf, 3, nn.BatchNorm2d)
        with contextlib.redirect_stdout(sys.stderr):
            ref.init_weights(reference, "normal", 0.02)
        ours = MultiscaleDiscriminator(in_channels=6, ndf=ngf, n_layers=3, num_D=1, norm="batch", padding=1,
                                       weight_init="pix2pix")
        rows.append(compare("basic D", reference, ours, torch.rand(1, 6, 256, 256, generator=gen) * 2 - 1))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reference-repo", help="a checkout of github.com/junyanz/pytorch-CycleGAN-and-pix2pix")
    parser.add_argument("--ngf", type=int, default=64, help="width of G's and D's first layer (default 64, pix2pix's)")
    parser.add_argument("--tolerance", type=float, default=1e-7, help="largest output difference accepted")
    parser.add_argument("--out", help="also write the JSON here")
    args = parser.parse_args()
    if not args.reference_repo:
        print("skipped: no --reference-repo; clone github.com/junyanz/pytorch-CycleGAN-and-pix2pix outside this "
              "repository and pass its path")
        return 0
    repo = Path(args.reference_repo)
    if not repo.is_dir():
        parser.error(f"--reference-repo {repo}: no such folder")
    if not (repo / REFERENCE_FILE).is_file():
        parser.error(f"--reference-repo {repo}: not a pytorch-CycleGAN-and-pix2pix checkout (no {REFERENCE_FILE})")
    rows = run(repo, args.ngf)
    print(f"{'network':10} {'reference':>11} {'ours':>11} {'train |diff|':>13} {'eval |diff|':>12} {'eval |out|':>11}",
          file=sys.stderr)
    for r in rows:
        print(f"{r['network']:10} {r['reference_params']:>11,} {r['ours_params']:>11,} "
              f"{r['train_max_abs_diff']:>13.3g} {r['eval_max_abs_diff']:>12.3g} {r['eval_output_max_abs']:>11.3g}",
              file=sys.stderr)
    ok = all(r["reference_params"] == r["ours_params"] and max(r["train_max_abs_diff"], r["eval_max_abs_diff"])
             <= args.tolerance for r in rows)
    report = {"config": {"ngf": args.ngf, "tolerance": args.tolerance}, "rows": rows, "parity": ok}
    text = json.dumps(report, indent=1)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + "\n")
    print(text)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
