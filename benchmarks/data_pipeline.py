"""Data pipeline throughput: samples/s of one loader worker (decode) and of the augmentation (device).

    python benchmarks/data_pipeline.py                      # ../shared/data/cityscapes_vid2vid_sample if present
    python benchmarks/data_pipeline.py --synthetic --num 24 # synthetic 2048x1024 scenes
    python benchmarks/data_pipeline.py --device cuda
    python benchmarks/data_pipeline.py --shard-size 1024x512  # shards resized once, for 1024x512 training

Writes shards to a temporary folder, then times (1) decoding in a single
process (what one DataLoader worker delivers) and (2) GPUAugment producing
2048x1024 (crop/flip) and 1024x512 (resize + crop/flip) batches. Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from hrgan.commands.common import parse_size  # noqa: E402
from hrgan.data.augment import GPUAugment  # noqa: E402
from hrgan.data.decode import collate  # noqa: E402
from hrgan.data.labels import LabelConvention  # noqa: E402
from hrgan.data.shards import write_split  # noqa: E402
from hrgan.data.stream import ShardStream  # noqa: E402
from hrgan.data.synthetic import write_dataset  # noqa: E402

WORKERS = min(8, os.cpu_count() or 1)  # for making the shards; the decode timing is one process
VID2VID = Path(__file__).resolve().parents[2] / "shared" / "data" / "cityscapes_vid2vid_sample"


def make_shards(out: Path, *, synthetic: bool, num: int, size: str | None, scene_size: tuple[int, int]) -> str:
    if not synthetic and VID2VID.is_dir():
        source = "cityscapes_vid2vid_sample (seq0000, JPEG photos)"
        layout, root = "folders", VID2VID
        options = {"labels": "{split}_A/seq0000", "instances": "{split}_inst/seq0000", "images": "{split}_B/seq0000",
                   "convention": LabelConvention(35)}
    else:
        source = f"synthetic {scene_size[0]}x{scene_size[1]} ({num} scenes, PNG photos)"
        write_dataset(out / "src", num=num, width=scene_size[0], height=scene_size[1], workers=WORKERS,
                      progress=False)
        layout, root, options = "pix2pixhd", out / "src", {}
    if size:
        options["size"] = tuple(int(v) for v in size.lower().split("x"))
        source += f", sharded at {size}"
    assert not write_split(layout, root, "train", out / "shards", workers=WORKERS, **options).bad
    return source



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--synthetic", action="store_true", help="use synthetic scenes even if the real set is present")
    parser.add_argument("--num", type=int, default=24, help="synthetic scenes to make")
    parser.add_argument("--batch", type=int, default=4, help="batch size for the augmentation timing")
    parser.add_argument("--shard-size", help="WxH: resize at shard time (hrgan shards --size), e.g. 1024x512")
    parser.add_argument("--scene-size", type=parse_size, default=(2048, 1024), help="WxH of the synthetic scenes")
    parser.add_argument("--augment-sizes", type=parse_size, nargs="+", default=[(2048, 1024), (1024, 512)],
                        help="WxH outputs of the augmentation timing")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        source = make_shards(tmp, synthetic=args.synthetic, num=args.num, size=args.shard_size,
                             scene_size=args.scene_size)
        urls = sorted(str(p) for p in (tmp / "shards").glob("*.tar"))
        stream = ShardStream(urls, batch_size=1, train=False, image_dtype="uint8")
        start = time.perf_counter()
        samples = [batch for batch in stream]
        decode_rate = len(samples) / (time.perf_counter() - start)
    items = [{k: v[0] if k != "key" else v[0] for k, v in s.items() if k != "skipped"} for s in samples]
    batches = [collate(items[i : i + args.batch]) for i in range(0, len(items) - args.batch + 1, args.batch)]
    batches = [{k: v.to(device) if torch.is_tensor(v) else v for k, v in b.items()} for b in batches]
    rates = {}
    for size in args.augment_sizes:
        augment = GPUAugment(size=size, scale_range=(1.0, 1.2), seed=0)
        augment(batches[0])  # warm-up
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        for batch in batches:
            augment(batch)
        if device.type == "cuda":
            torch.cuda.synchronize()
        rates[f"{size[0]}x{size[1]}"] = len(batches) * args.batch / (time.perf_counter() - start)
    print(json.dumps({
        "benchmark": "data pipeline",
        "source": source,
        "samples": len(samples),
        "decode_samples_per_s_per_worker": round(decode_rate, 2),
        "augment_samples_per_s": {k: round(v, 1) for k, v in rates.items()},
        "augment_device": torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu ({torch.get_num_threads()} threads)",
        "cpu": platform.processor() or platform.machine(),
        "torch": torch.__version__,
    }))


if __name__ == "__main__":
    main()
