"""A commented starter config for a shard set (behind ``hrgan init-config``): the data decides the classes,
the instance use and the resolution; the device decides the network size and the schedule."""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass

SIZE_MULTIPLE = 32  # the global generator's 4 downsamplings, and one enhancer's 2x on top
LONG_SIDE = {"cpu": 256, "gpu": 1024}  # the largest training side a starter run uses


@dataclass(frozen=True)
class DataFacts:
    """What a starter config needs to know of the data, from a shard manifest's split entry."""

    label_nc: int
    ignore_index: int | None
    has_instances: bool
    size: tuple[int, int]  # the commonest (W, H)
    mixed_sizes: bool
    num_samples: int
    classes: str | None
    label_offset: int = 0
    file_ignore_index: int | None = None

    @classmethod
    def from_entry(cls, entry: dict) -> DataFacts:
        sizes = Counter(entry.get("image_sizes") or {})
        if not sizes:
            raise ValueError("the manifest records no image sizes (no samples were written)")
        width, height = (int(v) for v in sizes.most_common(1)[0][0].split("x"))
        return cls(int(entry["label_nc"]), entry.get("ignore_index"), bool(entry.get("has_instances")),
                   (width, height), len(sizes) > 1, int(entry.get("num_samples") or 0), entry.get("classes"),
                   int(entry.get("label_offset") or 0), entry.get("file_ignore_index"))


def quoted(text: str) -> str:
    """A YAML scalar that reads back as ``text`` whatever it holds ('#', ':', braces, 'yes'): a JSON string."""
    return json.dumps(text)


def _inputs(facts: DataFacts, ignore: str) -> str:
    """The config's lines on what the model takes: label maps (label_nc, ignore_index) or input images."""
    if facts.label_nc == 0:
        return ("  label_nc: 0                        # the shards hold input images (hrgan shards --input image)\n"
                "  input_nc: 3                        # their channels: 3 (RGB) or 1 (greyscale)")
    return (f"  label_nc: {facts.label_nc}                    # classes in the shards' manifest\n"
            f"  ignore_index: {ignore}               # the shards' value for unlabeled pixels (null: none)")


def training_size(size: tuple[int, int], device: str) -> tuple[int, int]:
    """The data's (W, H), shrunk so the long side is at most the device's, in multiples of SIZE_MULTIPLE."""
    width, height = size
    factor = min(1.0, LONG_SIDE[device] / max(width, height))
    return tuple(max(SIZE_MULTIPLE, SIZE_MULTIPLE * round(side * factor / SIZE_MULTIPLE)) for side in (width, height))


def _schedule(facts: DataFacts, size: tuple[int, int], device: str) -> str:
    width, height = size
    if device == "cpu":
        steps = 3000
        return f"""  schedule:
    stages:
      - resolution: [{width}, {height}]  # the data's aspect ratio, long side <= {LONG_SIDE['cpu']} for a CPU
        n_enhancers: 0                 # the global generator alone
        num_D: 2
        batch_size: 1
        steps: {steps}                    # about {math.ceil(steps / max(facts.num_samples, 1))} passes over {facts.num_samples} samples; raise it for better photos
        niter_decay: {steps // 2}              # the learning rate decays linearly over the last half"""
    if width >= 1024 or height >= 1024:
        half = (width // 2, height // 2)
        settle = min(10000, 20 * max(facts.num_samples, 1))  # a tenth of the 200-epoch stage at most
        return f"""  schedule:
    stages:
      - resolution: [{half[0]}, {half[1]}]  # pix2pixHD: the global generator at half size first
        n_enhancers: 0
        num_D: 2
        batch_size: 1
        epochs: 200                    # 100 at the full learning rate, then 100 decaying (the paper's)
        niter_decay: 100
      - resolution: [{width}, {height}]  # then one local enhancer at full size
        n_enhancers: 1
        num_D: 3
        batch_size: 1
        epochs: 200
        niter_decay: 100
        fix_global_steps: {settle}        # iterations in which only the new enhancer trains (pix2pixHD's niter_fix_global, in epochs there)
        fade_in_steps: {settle}           # iterations over which its output is blended in"""
    return f"""  schedule:
    stages:
      - resolution: [{width}, {height}]  # the data's aspect ratio
        n_enhancers: 0                 # the global generator alone (pix2pixHD's 'global' model)
        num_D: 2
        batch_size: 1
        epochs: 200                    # 100 at the full learning rate, then 100 decaying (the paper's)
        niter_decay: 100"""


def starter_config(facts: DataFacts, *, train_urls: str, val_urls: str | None, device: str, run_dir: str) -> str:
    """The YAML text of a config that trains on these shards, every value commented."""
    size = training_size(facts.size, device)
    two_stage = device == "gpu" and max(size) >= 1024
    ngf = 32 if device == "cpu" else 64
    blocks = 6 if device == "cpu" else 9
    classes = f"  classes: {quoted(facts.classes)}               # names and colours for samples and exports\n" if facts.classes else ""
    if facts.label_offset and not facts.classes:
        file_ignore = f" --ignore-index {facts.file_ignore_index}" if facts.file_ignore_index is not None else ""
        classes += (f"  # the shards were written with --label-offset {facts.label_offset}{file_ignore}: pass the same to "
                    "'hrgan infer' on your own mask files\n")
    ignore = f"{facts.ignore_index}" if facts.ignore_index is not None else "null"
    load_size = (f"  load_size: [{facts.size[0]}, {facts.size[1]}]  # the set has several sizes: each sample is resized "
                 "to the commonest on load\n") if facts.mixed_sizes else ""
    val = f"  val_urls: {quoted(val_urls)}\n" if val_urls else "  val_urls: null  # no validation split found: pass --data.val_urls to add one\n"
    return f"""# Starter config written by 'hrgan init-config' for {train_urls}
# ({facts.num_samples} samples, {facts.size[0]}x{facts.size[1]}{' and other sizes' if facts.mixed_sizes else ''}, {f'{facts.label_nc} classes' if facts.label_nc else 'image inputs'}), sized for a {device.upper()}.
#   hrgan fit --config THIS_FILE
# Every value can be overridden on the command line, e.g. --trainer.max_time 00:02:00:00.
seed_everything: 0
trainer:
  accelerator: {'cpu' if device == 'cpu' else 'gpu'}
  devices: {'1                      # one process' if device == 'cpu' else "auto                   # every GPU of the node (DDP)"}
  precision: {'32' if device == 'cpu' else 'bf16-mixed'}
  default_root_dir: {quoted(run_dir)}  # checkpoints/, samples/, export.pt and wandb/ go here
  log_every_n_steps: 50
  val_check_interval: {500 if device == 'cpu' else 2000}       # validate every this many batches
  check_val_every_n_epoch: null
  num_sanity_val_steps: 0
  logger:
    class_path: pytorch_lightning.loggers.WandbLogger  # offline unless wandb is set up
    init_args:
      project: hrgan
  callbacks:
    - class_path: hrgan.training.callbacks.Checkpoints  # checkpoints/iter_NNNNNNN.ckpt and last.ckpt
      init_args:
        every_n_iterations: {1000 if device == 'cpu' else 5000}
    - class_path: hrgan.training.callbacks.SampleGrids  # samples/latest.png
      init_args:
        every_n_iterations: {250 if device == 'cpu' else 1000}
    - class_path: hrgan.training.callbacks.InferenceExport  # export.pt for hrgan infer / evaluate
model:
{_inputs(facts, ignore)}
{classes}  use_instance_edges: {'true' if facts.has_instances else 'false'}       # {'the shards have instance maps' if facts.has_instances else 'the shards have no instance maps'}
  generator:
    class_path: hrgan.models.Pix2PixHDGenerator
    init_args:
      ngf: {ngf}                       # width ({'64 in the paper; 32 is about 4x cheaper' if device == 'cpu' else 'the paper'})
      n_downsample_global: 4
      n_blocks_global: {blocks}
      n_local_enhancers: {1 if two_stage else 0}
  discriminator:
    class_path: hrgan.models.MultiscaleDiscriminator
    init_args:
      ndf: {ngf}
      n_layers: 3
      num_D: {3 if two_stage else 2}
{_schedule(facts, size, device)}
  lambda_feat: 10                    # feature matching (the paper's)
{"  lambda_l1: 100                    # pix2pix's L1 term: on short CPU runs it fixes the layout early (BENCHMARKS.md, facades)" + chr(10) if device == "cpu" else ""}  use_vgg_loss: true
  vgg_if_available: true             # without VGG19 weights in the torch hub cache, trains without it (and says so)
  ema_decay: 0.999                   # exported weights are an average of the generator's
data:
  train_urls: {quoted(train_urls)}
{val}  resolution: [{size[0]}, {size[1]}]
{load_size}  num_workers: {2 if device == 'cpu' else 8}
  flip: true                         # horizontal flips (turn off for sets whose left and right differ)
"""
