"""hrgan evaluate: FID, PSNR/SSIM and semantic consistency of a trained model on held-out labelled data.

Generates a photo for every labelled sample (EMA weights when the checkpoint
has them) and scores it:
  fid    FID against the real photos, with FID's own Inception-v3 weights read
         from a local file (--inception-weights, else the torch hub cache);
  psnr   PSNR against the real photo (dB, on the [0, 1] scale);
  ssim   SSIM against the real photo;
  miou   mIoU and pixel accuracy of your segmentation network (--segmenter, a
         TorchScript file mapping images in [-1, 1] to logits over the model's
         classes) on the generated photos against the input labels, the ignore
         label skipped; the same on the real photos is the ceiling.
Writes OUT (JSON: the means, per-class IoU, per-sample scores), OUT_classes.md
(the per-class table) and OUT_grid.png (worst and best samples: labels |
generated | real). With --devices N each process takes its share of the data
(each sample once) and the numbers are combined before they are written.

examples:
  hrgan evaluate --checkpoint runs/x/checkpoints/last.ckpt --data 'shards/val-*.tar' --metrics psnr,ssim --out eval/report.json
  hrgan evaluate --checkpoint export.pt --data /data/cityscapes --layout cityscapes --split val \\
      --inception-weights ~/weights/pt_inception-2015-12-05-6726825d.pth --segmenter drn105.pt --out eval/report.json
  hrgan evaluate --checkpoint last.ckpt --data 'shards/val-*.tar' --out r.json --device cuda --devices 8 --precision bf16
"""

from __future__ import annotations

import argparse
import datetime
import sys
from pathlib import Path

from torch.utils.data import DataLoader
from tqdm import tqdm

from hrgan import __version__
from hrgan.arguments import parse_size
from hrgan.data.layouts import LAYOUTS
from hrgan.data.stream import ShardStream, expand_urls
from hrgan.evaluation.metrics import METRICS, EvaluationMetrics, load_segmenter, parse_metrics
from hrgan.evaluation.report import summary_line, write_report
from hrgan.inference.inputs import is_shard_input
from hrgan.inference.synthesizer import PRECISIONS, Synthesizer
from hrgan.pretrained import load_fid_inception


def metrics_argument(text: str) -> tuple[str, ...]:
    try:
        return parse_metrics(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hrgan evaluate", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", required=True, help="an export (export.pt) or a Lightning checkpoint")
    parser.add_argument("--data", required=True, help="shards (paths, globs, brace patterns, pipe:) or a dataset folder")
    parser.add_argument("--layout", choices=LAYOUTS, default="pix2pixhd", help="layout of a --data folder (default: %(default)s)")
    parser.add_argument("--split", default="test", help="split of a --data folder or shard folder (default: %(default)s)")
    parser.add_argument("--metrics", type=metrics_argument, default=("fid", "psnr", "ssim"),
                        help=f"comma-separated, from {','.join(METRICS)} (default: fid,psnr,ssim)")
    parser.add_argument("--out", type=Path, required=True, help="report JSON; _classes.md and _grid.png go beside it")
    parser.add_argument("--inception-weights", help="pt_inception-2015-12-05-6726825d.pth (default: the torch hub cache)")
    parser.add_argument("--segmenter", type=Path, help="TorchScript segmentation network for miou")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2, help="data loader processes per device")
    parser.add_argument("--load-size", type=lambda t: parse_size(t, minimum=1), help="resize every sample to WxH first")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda (default: %(default)s)")
    parser.add_argument("--devices", type=int, default=1, help="processes (GPUs) to spread the data over")
    parser.add_argument("--precision", choices=sorted(PRECISIONS), default="32", help="generator precision")
    parser.add_argument("--keep", type=int, default=4, help="worst and best samples in the grid (default: %(default)s)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing report")
    return parser


def shard_urls(args, synthesizer: Synthesizer, fabric) -> str:
    """``--data`` as shard URLs; a dataset folder is sharded once (by rank zero) beside the report."""
    data = args.data
    if is_shard_input(data):
        return data
    folder = Path(data)
    if not folder.is_dir():
        raise FileNotFoundError(f"--data {data}: neither shards nor a folder")
    for pattern in (f"{args.split}-*.tar", "*.tar"):
        if list(folder.glob(pattern)):
            return str(folder / pattern)
    target = args.out.with_name(args.out.stem + "_shards")
    if fabric.global_rank == 0 and not list(target.glob(f"{args.split}-*.tar")):
        from hrgan.data.shards import main as shards_main

        command = ["--layout", args.layout, "--root", str(folder), "--split", args.split, "--out", str(target),
                   "--label-nc", str(synthesizer.label_nc), "--overwrite"]
        if synthesizer.ignore_index is not None:
            command += ["--ignore-index", str(synthesizer.ignore_index)]
        if shards_main(command) != 0:
            raise RuntimeError(f"sharding {folder} (split {args.split}) failed; see the messages above")
    fabric.barrier()
    return str(target / f"{args.split}-*.tar")


def evaluate(args, fabric) -> dict:
    """Run the model over the data on this process and return the combined results (same on every rank)."""
    synthesizer = Synthesizer.load(args.checkpoint, device=fabric.device, precision=args.precision)
    urls = shard_urls(args, synthesizer, fabric)
    metrics = EvaluationMetrics(
        metrics=args.metrics,
        label_nc=synthesizer.label_nc,
        ignore_index=synthesizer.ignore_index,
        inception=load_fid_inception(args.inception_weights) if "fid" in args.metrics else None,
        segmenter=load_segmenter(args.segmenter, fabric.device) if "miou" in args.metrics else None,
        palette=synthesizer.palette,
        keep=args.keep,
        device=fabric.device,
    )
    stream = ShardStream(urls, batch_size=args.batch_size, train=False, num_workers=args.workers,
                         rank=fabric.global_rank, world_size=fabric.world_size, load_size=args.load_size)
    loader = DataLoader(stream, batch_size=None, num_workers=args.workers, pin_memory=fabric.device.type == "cuda")
    try:
        total = len(stream)
    except TypeError:
        total = None
    for batch in tqdm(loader, total=total, desc="evaluate", unit="batch", disable=fabric.global_rank != 0):
        real = batch["image"].to(fabric.device)
        instance = batch.get("inst")
        features = synthesizer.encode(real, instance) if synthesizer.feat_num else None
        fake = synthesizer(batch["label"], instance, features)
        metrics.update(fake, real, batch["label"], list(batch["key"]))
    result = metrics.compute()
    result["expected"] = sum(s.samples for s in stream.shards) if all(s.samples is not None for s in stream.shards) else None
    result["names"] = synthesizer.export["classes"]["names"]
    result["iteration"] = synthesizer.export.get("iteration")
    result["urls"] = expand_urls(urls)
    return result


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.out.exists() and not args.overwrite:
        print(f"hrgan evaluate: {args.out} exists; pass --overwrite to replace it", file=sys.stderr)
        return 2
    if "miou" in args.metrics and args.segmenter is None:
        print("hrgan evaluate: miou needs --segmenter model.pt (TorchScript, images in [-1, 1] -> logits)", file=sys.stderr)
        return 2
    from lightning_fabric import Fabric

    accelerator = {"auto": "auto", "cpu": "cpu", "cuda": "cuda", "gpu": "cuda"}.get(args.device, args.device)
    fabric = Fabric(accelerator=accelerator, devices=args.devices, strategy="ddp" if args.devices > 1 else "auto")
    fabric.launch()
    try:
        result = evaluate(args, fabric)
    except (FileNotFoundError, ValueError, RuntimeError) as error:
        print(f"hrgan evaluate: {error}", file=sys.stderr)
        return 1
    if fabric.global_rank != 0:
        return 0
    if result["num_samples"] == 0:
        print(f"hrgan evaluate: no samples with a photo in {args.data}", file=sys.stderr)
        return 1
    meta = {
        "checkpoint": str(args.checkpoint), "iteration": result["iteration"], "data": args.data, "metrics": list(args.metrics),
        "skipped": result["expected"] - result["num_samples"] if result["expected"] is not None else None,
        "inception_weights": args.inception_weights if "fid" in args.metrics else None,
        "segmenter": str(args.segmenter) if args.segmenter else None, "processes": fabric.world_size,
        "precision": args.precision, "hrgan": __version__, "date": datetime.datetime.now().isoformat(timespec="seconds"),
    }
    written = write_report(args.out, result, names=result["names"], meta=meta)
    print(summary_line(result))
    for kind, path in written.items():
        print(f"{kind}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
