"""hrgan infer: label maps to photos with a trained model, at any size.

Inputs are paired by file stem; each output is OUTDIR/STEM.png (with
--side-by-side also STEM_side.png: colourised label | photo). Inputs of any size
are padded (reflection) to the network's multiple and cropped back. Existing
outputs are kept unless --overwrite; every file is written under a temporary
name and renamed. One bad input never stops the others: the summary lists
every failure with its reason, and the exit code is 1 when any failed.

examples:
  hrgan infer --checkpoint runs/demo/export.pt --labels data/test_label --instances data/test_inst --out out/
  hrgan infer --checkpoint last.ckpt --labels 'maps/**/*_labelIds.png' --instances 'maps/**/*_instanceIds.png' --out out/
  hrgan infer --checkpoint export.pt --labels 'shards/val-{000000..000003}.tar' --out out/ --device cuda --precision bf16
  hrgan infer --checkpoint export.pt --labels facade.png --palette palette.json --no-instances --out out/
  hrgan infer --checkpoint export.pt --labels l/ --instances i/ --out out/ --style cluster:3   (models with styles)
"""

from __future__ import annotations

import argparse
import sys
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader
from tqdm import tqdm

from hrgan.arguments import parse_size
from hrgan.data.palette import Palette
from hrgan.inference.inputs import FileInputs, Failed, Loaded, ReadOptions, ShardInputs, find_input_files, is_shard_input
from hrgan.inference.synthesizer import PRECISIONS, Synthesizer
from hrgan.models import instance_average_pool
from hrgan.visualize import colorize_labels, image_to_uint8, save_png, side_by_side


@dataclass
class Style:
    """How instance features are chosen: random clusters, one cluster index, or a reference photo's."""

    mode: str  # "random" | "cluster" | "image"
    cluster: int | None = None
    image: Path | None = None

    @classmethod
    def parse(cls, text: str) -> Style:
        if text == "random":
            return cls("random")
        kind, _, value = text.partition(":")
        if kind == "cluster" and value.isdigit():
            return cls("cluster", cluster=int(value))
        if kind == "from-image" and value:
            return cls("image", image=Path(value))
        raise argparse.ArgumentTypeError(f"style must be random, cluster:K or from-image:PATH, got {text!r}")


@dataclass
class Summary:
    written: int = 0
    skipped: int = 0
    failed: list[Failed] = field(default_factory=list)

    def report(self, out: Path) -> str:
        hint = " (outputs exist; --overwrite replaces them)" if self.skipped else ""
        lines = [f"written {self.written}, skipped {self.skipped}{hint}, failed {len(self.failed)}; outputs in {out}"]
        lines += [f"  failed: {f.reason}" if f.source in f.reason else f"  failed: {f.source}: {f.reason}" for f in self.failed]
        return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hrgan infer", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, required=True, help="export.pt or a Lightning checkpoint (EMA weights when present)")
    parser.add_argument("--labels", required=True, help="label map file, folder (recursive), glob, or WebDataset shard URLs")
    parser.add_argument("--instances", help="instance map file, folder or glob, paired with the labels by stem")
    parser.add_argument("--no-instances", action="store_true", help="run a model trained with instance maps without them (zero edge channel)")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--size", type=lambda t: parse_size(t, minimum=1), help="resize inputs to WIDTHxHEIGHT first (nearest)")
    parser.add_argument("--palette", type=Path, help="palette JSON to turn colour-coded label images into class ids")
    parser.add_argument("--batch-size", type=int, default=4, help="maps per forward pass (same-size neighbours are batched; default: %(default)s)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", help="cpu, cuda or cuda:N (default: %(default)s)")
    parser.add_argument("--precision", choices=sorted(PRECISIONS), default="32", help="32, bf16 or 16 (autocast; default: %(default)s)")
    parser.add_argument("--style", type=Style.parse, help="instance features: random, cluster:K or from-image:PATH (models with an encoder)")
    parser.add_argument("--seed", type=int, default=0, help="seed for --style random (each map is reproducible alone; default: %(default)s)")
    parser.add_argument("--side-by-side", action="store_true", help="also write STEM_side.png: colourised label | photo")
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    parser.add_argument("--workers", type=int, default=2, help="processes reading inputs (default: %(default)s)")
    return parser


class Runner:
    """Batches same-size inputs, runs the model, writes the outputs and keeps the summary."""

    def __init__(self, synth: Synthesizer, args: argparse.Namespace, summary: Summary) -> None:
        self.synth, self.args, self.summary = synth, args, summary
        self.palette = np.array(synth.palette, dtype=np.uint8)
        self.pending: list[Loaded] = []
        self.reference: dict[tuple[int, int], torch.Tensor] = {}  # --style from-image: encoder features per size

    def outputs(self, key: str) -> tuple[Path, Path]:
        return self.args.out / f"{key}.png", self.args.out / f"{key}_side.png"

    def add(self, item: Loaded) -> None:
        if self.pending and self.pending[0].label.shape != item.label.shape:
            self.flush()
        self.pending.append(item)
        if len(self.pending) >= self.args.batch_size:
            self.flush()

    def flush(self) -> None:
        batch, self.pending = self.pending, []
        if not batch:
            return
        try:
            label = torch.from_numpy(np.stack([b.label for b in batch]))
            instance = None if batch[0].instance is None else torch.from_numpy(np.stack([b.instance for b in batch]))
            photos = self.synth(label, instance, self.features(batch, label, instance))
        except (RuntimeError, ValueError) as error:  # e.g. out of memory: these inputs fail, the rest go on
            self.summary.failed += [Failed(b.key, b.source, f"generation failed: {error}") for b in batch]
            return
        for item, photo in zip(batch, photos, strict=True):
            self.write(item, image_to_uint8(photo))

    def features(self, batch: list[Loaded], label: torch.Tensor, instance: torch.Tensor | None) -> torch.Tensor | None:
        synth, style = self.synth, self.args.style
        if not synth.feat_num:
            return None
        regions = instance if instance is not None else label  # without instances: one region per class
        if style.mode == "image":
            raw = self.reference_features(label.shape[1], label.shape[2])
            return instance_average_pool(raw.expand(len(batch), -1, -1, -1), regions.to(raw.device).long())
        maps = []
        for item, lab, reg in zip(batch, label, regions, strict=True):
            rng = np.random.default_rng([self.args.seed, zlib.crc32(item.key.encode())])
            maps.append(synth.styles.feature_map(lab, reg, cluster=style.cluster, rng=rng))
        return torch.stack(maps)

    def reference_features(self, height: int, width: int) -> torch.Tensor:
        """The reference photo's encoder features at this size, [1, F, H, W]; encoded once per size."""
        if (height, width) not in self.reference:
            photo = Image.open(self.args.style.image).convert("RGB").resize((width, height), Image.Resampling.BICUBIC)
            pixels = torch.from_numpy(np.array(photo)).permute(2, 0, 1).float().div(127.5).sub(1)
            self.reference[(height, width)] = self.synth.encoder_features(pixels.unsqueeze(0))
        return self.reference[(height, width)]

    def write(self, item: Loaded, photo: np.ndarray) -> None:
        main, side = self.outputs(item.key)
        try:
            save_png(main, photo)
            if self.args.side_by_side:
                save_png(side, side_by_side(colorize_labels(item.label, self.palette), photo))
        except OSError as error:
            self.summary.failed.append(Failed(item.key, str(main), f"cannot write: {error}"))
            return
        self.summary.written += 1


def check_options(synth: Synthesizer, args: argparse.Namespace) -> str | None:
    """An error message for options that cannot work with this model, else None."""
    if synth.use_instance_edges and not args.instances and not args.no_instances and not is_shard_input(args.labels):
        return ("this model was trained with instance maps: pass --instances PATH, or --no-instances to run "
                "with an all-zero edge channel")
    if synth.feat_num:
        if args.style is None:
            args.style = Style("random")
        if args.style.mode != "image" and synth.styles is None:
            return (f"this model takes instance features ({synth.feat_num} channels) but its export has no styles: run "
                    f"'hrgan encode-features --checkpoint {args.checkpoint} --data TRAIN_SHARDS --out EXPORT' first, "
                    "or pass --style from-image:PHOTO")
        if args.style.mode == "image" and not args.style.image.is_file():
            return f"--style from-image: {args.style.image} does not exist"
    elif args.style is not None:
        print("hrgan infer: this model has no instance-feature encoder; --style is ignored", file=sys.stderr)
    if args.palette is not None and not args.palette.is_file():
        return f"--palette: {args.palette} does not exist"
    return None


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        synth = Synthesizer.load(args.checkpoint, device=args.device, precision=args.precision)
    except (FileNotFoundError, ValueError, RuntimeError) as error:
        print(f"hrgan infer: {error}", file=sys.stderr)
        return 2
    problem = check_options(synth, args)
    if problem:
        print(f"hrgan infer: {problem}", file=sys.stderr)
        return 2
    uses_instances = (synth.use_instance_edges or bool(synth.feat_num)) and not args.no_instances
    options = ReadOptions(
        label_nc=synth.label_nc, ignore_index=synth.ignore_index, instances=uses_instances, size=args.size,
        palette=Palette.load(args.palette) if args.palette else None,
    )
    summary = Summary()
    runner = Runner(synth, args, summary)
    if is_shard_input(args.labels):
        dataset, total = ShardInputs(args.labels, options), None
        workers = min(args.workers, len(dataset.urls))
    else:
        try:
            samples, summary.failed, warnings = find_input_files(args.labels, args.instances if uses_instances else None)
        except FileNotFoundError as error:
            print(f"hrgan infer: {error}", file=sys.stderr)
            return 2
        for warning in warnings:
            print(f"hrgan infer: warning: {warning}", file=sys.stderr)
        todo = [s for s in samples if args.overwrite or not runner.outputs(s.key)[0].exists()]
        summary.skipped = len(samples) - len(todo)
        dataset, total, workers = FileInputs(todo, options), len(todo), min(args.workers, len(todo))
    args.out.mkdir(parents=True, exist_ok=True)
    loader = DataLoader(dataset, batch_size=None, num_workers=workers, collate_fn=_as_is)
    for item in tqdm(loader, total=total, desc="hrgan infer", unit="map"):
        if isinstance(item, Failed):
            summary.failed.append(item)
        elif not args.overwrite and runner.outputs(item.key)[0].exists():  # shards: known only once read
            summary.skipped += 1
        else:
            runner.add(item)
    runner.flush()
    print(summary.report(args.out))
    return 1 if summary.failed else 0


def _as_is(item):
    return item


if __name__ == "__main__":
    sys.exit(main())
