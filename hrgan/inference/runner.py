"""Label maps to photos with a trained model, at any size: reading, batching, scaling, writing, and the summary.

Inputs are paired by file stem; each output is OUT/STEM.png (with side_by_side
also STEM_side.png: colourised label | photo). Existing outputs are kept unless
overwrite; every file is written under a temporary name and renamed. One bad
input never stops the others: the summary lists every failure with its reason.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader
from tqdm import tqdm

from hrgan.data.images import BadSampleError
from hrgan.data.names import path_under
from hrgan.data.palette import Palette
from hrgan.inference.inputs import FileInputs, Failed, Loaded, ReadOptions, ShardInputs, find_input_files, is_shard_input
from hrgan.inference.options import InferOptions, Style
from hrgan.inference.scale import resize_ids, resize_photos, run_size, scale_warning
from hrgan.inference.synthesizer import Synthesizer
from hrgan.models.family import StyleChoice
from hrgan.pixels import from_uint8, photo_tensor
from hrgan.visualize import colorize_labels, image_to_uint8, save_png, side_by_side


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


class Runner:
    """Batches same-size inputs, runs the model, writes the outputs and keeps the summary."""

    def __init__(self, synth: Synthesizer, options: InferOptions, summary: Summary,
                 on_warning: Callable[[str], None] | None = None) -> None:
        self.synth, self.options, self.summary = synth, options, summary
        self.on_warning = on_warning
        self.warned: set[tuple[int, int]] = set()
        self.choice = style_choice(options.style or Style("random"), options.seed)
        self.palette = np.array(synth.palette, dtype=np.uint8)
        self.pending: list[Loaded] = []

    def outputs(self, key: str) -> tuple[Path, Path]:
        """OUT/KEY.png and OUT/KEY_side.png; ``BadSampleError`` for a key that would leave OUT."""
        return path_under(self.options.out, key, ".png"), path_under(self.options.out, key, "_side.png")

    def add(self, item: Loaded) -> None:
        if self.pending and self.pending[0].label.shape != item.label.shape:
            self.flush()
        self.pending.append(item)
        if len(self.pending) >= self.options.batch_size:
            self.flush()

    def flush(self) -> None:
        batch, self.pending = self.pending, []
        if not batch:
            return
        try:
            label = torch.from_numpy(np.stack([b.label for b in batch]))
            if self.synth.label_nc == 0:  # input images [B, H, W, C] uint8
                label = from_uint8(label.permute(0, 3, 1, 2))
            instance = None if batch[0].instance is None else torch.from_numpy(np.stack([b.instance for b in batch]))
            native = (label.shape[-1], label.shape[-2])
            self.check_scale(native)
            size = native if isinstance(self.options.scale, tuple) else run_size(native, self.synth.resolution, self.options.scale)
            label = resize_photos(label, size) if label.is_floating_point() else resize_ids(label, size)
            instance = None if instance is None else resize_ids(instance, size)
            style = self.synth.style(self.choice, label, instance, [b.key for b in batch])
            photos = resize_photos(self.synth(label, instance, style=style), native)
        except (RuntimeError, ValueError) as error:  # e.g. out of memory: these inputs fail, the rest go on
            self.summary.failed += [Failed(b.key, b.source, f"generation failed: {error}") for b in batch]
            return
        for item, photo in zip(batch, photos, strict=True):
            self.write(item, image_to_uint8(photo))

    def check_scale(self, native: tuple[int, int]) -> None:
        """Warn once per map size that is more than 2x off the training scale."""
        if native in self.warned or self.on_warning is None:
            return
        self.warned.add(native)
        warning = scale_warning(native, self.synth.resolution, self.options.scale)
        if warning:
            self.on_warning(warning)

    def write(self, item: Loaded, photo: np.ndarray) -> None:
        try:
            main, side = self.outputs(item.key)
        except BadSampleError as error:
            self.summary.failed.append(Failed(item.key, item.source, str(error)))
            return
        try:
            save_png(main, photo)
            if self.options.side_by_side:
                condition = (np.repeat(item.label, 3 // item.label.shape[2], axis=2) if self.synth.label_nc == 0
                             else colorize_labels(item.label, self.palette))
                save_png(side, side_by_side(condition, photo))
        except OSError as error:
            self.summary.failed.append(Failed(item.key, str(main), f"cannot write: {error}"))
            return
        self.summary.written += 1


def style_choice(style: Style, seed: int) -> StyleChoice:
    """``--style`` and ``--seed`` as the family's style choice (a reference photo is read once per size)."""
    if style.mode != "image":
        return StyleChoice(style.mode, seed=seed, cluster=style.cluster)
    return StyleChoice("reference", seed=seed, reference=functools.lru_cache(maxsize=8)(
        functools.partial(reference_photo, style.image)))


def reference_photo(path, height: int, width: int) -> torch.Tensor:
    """A --style from-image photo at this size, [1, 3, H, W] in [-1, 1]."""
    with Image.open(path) as image:
        return photo_tensor(image, width, height)


def check_options(synth: Synthesizer, checkpoint: Path, labels: str, options: InferOptions) -> tuple[str | None, str | None]:
    """(a problem with the command line for this model, a problem with the model or a file); None where there is none."""
    if synth.use_instance_edges and options.instance_edges and not options.instances and not is_shard_input(labels):
        return ("this model was trained with instance maps: pass --instances PATH, or --instance-edges false to run "
                "with an all-zero edge channel"), None
    style = options.style or Style("random")
    choice = style_choice(style, options.seed)
    problems = synth.style_problems(choice)
    if problems:
        usage, problem = problems[0]
        return (problem, None) if usage else (None, problem.replace("MODEL", str(checkpoint)))
    if choice.mode in synth.family.style.choices and style.mode == "image" and not style.image.is_file():
        return None, f"--style from-image: {style.image} does not exist"
    if options.palette is not None and synth.label_nc == 0:
        return "--palette turns colour label images into class ids, but this model takes input images as they are", None
    if options.palette is not None and not options.palette.is_file():
        return None, f"--palette: {options.palette} does not exist"
    return None, None


def run_inference(synth: Synthesizer, labels: str, options: InferOptions,
                  on_warning: Callable[[str], None] | None = None) -> Summary:
    """Turn every label map (or, for an image-input model, input image) of ``labels`` (files, folders, globs or
    shard URLs) into a photo under ``options.out``.

    Raises ``FileNotFoundError`` when ``labels`` finds nothing; per-input problems go into the summary, and
    warnings about the inputs (e.g. labels without an instance map, a scale far from training's) to ``on_warning``.
    """
    uses_instances = (synth.use_instance_edges or bool(synth.feat_num)) and options.instance_edges
    reading = ReadOptions(
        label_nc=synth.label_nc, input_nc=synth.input_nc, ignore_index=synth.ignore_index, instances=uses_instances,
        size=options.scale if isinstance(options.scale, tuple) else None,
        palette=Palette.load(options.palette) if options.palette else None,
        files=synth.file_convention(options.label_offset, options.ignore_index),
    )
    summary = Summary()
    runner = Runner(synth, options, summary, on_warning)
    if is_shard_input(labels):
        dataset, total = ShardInputs(labels, replace(reading, files=synth.shard_convention())), None  # stored ids
        workers = min(options.workers, len(dataset.urls))
    else:
        samples, summary.failed, warnings = find_input_files(labels, options.instances if uses_instances else None)
        for warning in warnings if on_warning else ():
            on_warning(warning)
        todo = [s for s in samples if options.overwrite or not runner.outputs(s.key)[0].exists()]
        summary.skipped = len(samples) - len(todo)
        dataset, total, workers = FileInputs(todo, reading), len(todo), min(options.workers, len(todo))
    options.out.mkdir(parents=True, exist_ok=True)
    loader = DataLoader(dataset, batch_size=None, num_workers=workers, collate_fn=_as_is)
    for item in tqdm(loader, total=total, desc="hrgan infer", unit="map"):
        if isinstance(item, Failed):
            summary.failed.append(item)
        elif not options.overwrite and runner.outputs(item.key)[0].exists():  # shards: known only once read
            summary.skipped += 1
        else:
            runner.add(item)
    runner.flush()
    return summary


def _as_is(item):
    return item
