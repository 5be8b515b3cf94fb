"""Reference outputs of NVlabs/SPADE's own networks, for the import test (whose code is never in this repository).

    git clone --recursive https://github.com/NVlabs/SPADE /somewhere/spade   # never into this repository
    python benchmarks/spade_parity.py --reference-repo /somewhere/spade --write tests/fixtures/spade_reference.pt

Builds SPADE's ``SPADEGenerator`` (and the VAE's ``ConvEncoder``) from its ``models/networks`` package
for three small settings (``CASES``), fills every state-dict entry with ``reference_shaped_state_dict``
(seeded per key, so the test rebuilds the same weights from our networks' keys, which are SPADE's), runs
them in eval mode on fixed label maps (and a photo), and stores the inputs and outputs (a few hundred
KB, no code). ``tests/inference/test_spade_import.py`` writes the same weights as ``latest_net_G.pth`` /
``latest_net_E.pth``, runs ``hrgan import-spade`` and compares our forward with these outputs.

The reference's input is built as SPADE's ``preprocess_input`` does (one-hot over semantic_nc, then the
instance-edge map); its ``get_edges`` allocates CUDA tensors, so the edges are computed here with the
same neighbour comparisons. Its ``models/networks/sync_batchnorm`` is a submodule (vacancy/Synchronized-
BatchNorm-PyTorch's ``sync_batchnorm``: clone with --recursive). Its package imports torchvision (for the VGG
loss) and dill (util), which these networks do not use: empty modules stand in when they are not installed.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import types
import zlib
from argparse import Namespace
from pathlib import Path

import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parent.parent
FIXTURE = REPO / "tests" / "fixtures" / "spade_reference.pt"

# name -> SPADE options; every case has ngf 4 (tiny) and SPADE's defaults otherwise
CASES = {
    # ADE20K/COCO-like: the don't-care label and instance edges, 64x32 (aspect 2)
    "dontcare_edges": dict(label_nc=4, contain_dontcare_label=True, no_instance=False, use_vae=False,
                           crop_size=64, aspect_ratio=2.0, num_upsampling_layers="normal"),
    # the VAE with its encoder (which needs crops of 256), 256x32 (aspect 8)
    "vae": dict(label_nc=3, contain_dontcare_label=False, no_instance=True, use_vae=True,
                crop_size=256, aspect_ratio=8.0, num_upsampling_layers="normal"),
    # a fifth up block, 128x128
    "most": dict(label_nc=3, contain_dontcare_label=False, no_instance=True, use_vae=False,
                 crop_size=128, aspect_ratio=1.0, num_upsampling_layers="most"),
}
NGF, Z_DIM, SEED = 4, 256, 0
UNUSED_IMPORTS = ("torchvision", "dill")  # imported by SPADE's package for its VGG loss and util, unused here


def semantic_nc(case: dict) -> int:
    return case["label_nc"] + case["contain_dontcare_label"] + (not case["no_instance"])


def image_size(case: dict) -> tuple[int, int]:
    """(H, W) of the case's label maps: SPADE's crop and aspect ratio."""
    return round(case["crop_size"] / case["aspect_ratio"]), case["crop_size"]


def reference_shaped_state_dict(shapes: dict[str, tuple[torch.Size, torch.dtype]], seed: int = SEED) -> dict[str, torch.Tensor]:
    """Weights for a SPADE network's keys, the same on every machine whatever the key order: each entry
    drawn from a generator seeded by (seed, key); spectral norm's u and v from 20 power iterations on
    weight_orig (so the normalised weight is well scaled), batch-norm statistics near 0 and 1."""
    def draw(key: str, shape) -> torch.Tensor:
        generator = torch.Generator().manual_seed(seed * 1_000_003 + zlib.crc32(key.encode()))
        return torch.randn(shape, generator=generator)

    state = {}
    for key, (shape, dtype) in shapes.items():
        if dtype == torch.long:  # num_batches_tracked
            state[key] = torch.zeros(shape, dtype=torch.long)
        elif key.endswith("running_var"):
            state[key] = 0.5 + draw(key, shape).abs()
        elif key.endswith(("running_mean", "bias")):
            state[key] = 0.1 * draw(key, shape)
        elif not key.endswith(("weight_u", "weight_v")):
            fan_in = max(1, shape.numel() // shape[0])
            state[key] = draw(key, shape) / fan_in ** 0.5
    for key in [k for k in shapes if k.endswith("weight_orig")]:
        prefix = key[: -len("weight_orig")]
        matrix = state[key].flatten(1)
        u = F.normalize(draw(prefix + "weight_u", shapes[prefix + "weight_u"][0]), dim=0)
        for _ in range(20):
            v = F.normalize(matrix.t() @ u, dim=0)
            u = F.normalize(matrix @ v, dim=0)
        state[prefix + "weight_u"], state[prefix + "weight_v"] = u, v
    return state


def shapes_of(network: torch.nn.Module) -> dict[str, tuple[torch.Size, torch.dtype]]:
    return {k: (v.shape, v.dtype) for k, v in network.state_dict().items()}


def inputs(case: dict, seed: int = SEED) -> dict[str, torch.Tensor]:
    """Label ids (0..label_nc, the last being the don't-care label when there is one) in blocks, an instance
    map and (VAE) a photo: the fixture stores them, so the test needs no generator of its own."""
    generator = torch.Generator().manual_seed(seed)
    height, width = image_size(case)
    classes = case["label_nc"] + case["contain_dontcare_label"]
    blocks = torch.randint(0, classes, (1, 1, height // 8, width // 8), generator=generator).float()
    label = F.interpolate(blocks, size=(height, width), mode="nearest")[:, 0].to(torch.uint8)
    instance = F.interpolate(torch.randint(0, 5, (1, 1, height // 4, width // 4), generator=generator).float(),
                             size=(height, width), mode="nearest")[:, 0].to(torch.uint8)
    found = {"label": label, "instance": instance}
    if case["use_vae"]:
        found["photo"] = torch.randint(0, 256, (1, 3, height, width), generator=generator).to(torch.uint8)
    return found


def edges(instance: torch.Tensor) -> torch.Tensor:
    """SPADE's get_edges: a pixel is an edge where its instance id differs from a 4-neighbour's."""
    t = instance[:, None].long()
    edge = torch.zeros_like(t, dtype=torch.bool)
    edge[:, :, :, 1:] |= t[:, :, :, 1:] != t[:, :, :, :-1]
    edge[:, :, :, :-1] |= t[:, :, :, 1:] != t[:, :, :, :-1]
    edge[:, :, 1:, :] |= t[:, :, 1:, :] != t[:, :, :-1, :]
    edge[:, :, :-1, :] |= t[:, :, 1:, :] != t[:, :, :-1, :]
    return edge.float()


def load_reference(repo: Path):
    """SPADE's ``models.networks`` generator and encoder modules, imported from the checkout."""
    for name in UNUSED_IMPORTS:
        if name not in sys.modules and importlib.util.find_spec(name) is None:
            sys.modules[name] = types.ModuleType(name)
    sys.path.insert(0, str(repo))
    from models.networks.encoder import ConvEncoder
    from models.networks.generator import SPADEGenerator

    return SPADEGenerator, ConvEncoder


def reference_outputs(repo: Path) -> dict:
    """Every case's inputs and SPADE's outputs (float32, eval mode)."""
    reference_generator, reference_encoder = load_reference(repo)
    fixture = {"ngf": NGF, "z_dim": Z_DIM, "seed": SEED, "cases": {}}
    for name, case in CASES.items():
        opt = Namespace(ngf=NGF, z_dim=Z_DIM, semantic_nc=semantic_nc(case), norm_G="spectralspadesyncbatch3x3",
                        norm_E="spectralinstance", **case)
        generator = reference_generator(opt)
        generator.load_state_dict(reference_shaped_state_dict(shapes_of(generator)), strict=True)
        generator.eval()
        data = inputs(case)
        classes = case["label_nc"] + case["contain_dontcare_label"]
        segmap = F.one_hot(data["label"].long(), classes).permute(0, 3, 1, 2).float()
        if not case["no_instance"]:
            segmap = torch.cat([segmap, edges(data["instance"])], 1)
        entry = {"options": dict(case), **data}
        with torch.no_grad():
            z = None
            if case["use_vae"]:
                encoder = reference_encoder(opt)
                encoder.load_state_dict(reference_shaped_state_dict(shapes_of(encoder)), strict=True)
                encoder.eval()
                mu, logvar = encoder(data["photo"].float() / 127.5 - 1)
                entry |= {"mu": mu, "logvar": logvar}
                z = mu
            entry["output"] = generator(segmap, z=z) if z is not None else generator(segmap)
        fixture["cases"][name] = entry
    return fixture


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reference-repo", type=Path, required=True, help="a checkout of NVlabs/SPADE")
    parser.add_argument("--write", type=Path, default=FIXTURE, help="the fixture file (default: %(default)s)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # the reference outputs do not depend on the machine's thread count
    fixture = reference_outputs(args.reference_repo)
    args.write.parent.mkdir(parents=True, exist_ok=True)
    torch.save(fixture, args.write)
    for name, entry in fixture["cases"].items():
        out = entry["output"]
        print(f"{name}: output {list(out.shape)}, mean {out.mean():.5f}, std {out.std():.5f}", file=sys.stderr)
    print(f"wrote {args.write} ({args.write.stat().st_size / 1e3:.0f} KB)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
