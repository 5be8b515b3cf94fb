"""Label (and instance) maps, or input images, to run a model on: files, folders, globs or WebDataset shards,
read with checks.

Reading never raises for a bad file: it yields ``Failed`` with the file and the
problem, so one bad input never stops the others.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import webdataset as wds
from PIL import Image
from torch.utils.data import Dataset, IterableDataset, get_worker_info

from hrgan.conditioning import format_values, invalid_label_values
from hrgan.data.decode import INPUT_EXTENSIONS
from hrgan.data.images import BadSampleError, decode_image, map_to_array
from hrgan.data.labels import LabelConvention
from hrgan.data.layouts import SampleFiles, list_images, pair_files
from hrgan.data.names import safe_key
from hrgan.data.palette import Palette
from hrgan.data.stream import expand_urls, tar_error_reason

SHARD_SUFFIXES = (".tar", ".tar.gz", ".tgz")


@dataclass
class Loaded:
    """One input, read and checked: ``label`` int64 [H, W] (an image-input model's input image: uint8
    [H, W, input_nc]), ``instance`` int64 [H, W] or None."""

    key: str
    source: str
    label: np.ndarray
    instance: np.ndarray | None


@dataclass
class Failed:
    key: str
    source: str
    reason: str


@dataclass(frozen=True)
class ReadOptions:
    """What a model needs of its inputs."""

    label_nc: int
    ignore_index: int | None = None
    instances: bool = True  # read instance maps (and require them)
    size: tuple[int, int] | None = None  # (W, H) to resize to, nearest
    palette: Palette | None = None  # RGB colour labels -> ids
    files: LabelConvention | None = None  # how label files number the classes (shards hold stored ids)
    input_nc: int = 3  # channels of input images (label_nc 0)

    @property
    def image_input(self) -> bool:
        return self.label_nc == 0


def _map(data: bytes, source: str, what: str, options: ReadOptions) -> np.ndarray:
    image = decode_image(data, source)
    if options.size is not None and image.size != options.size:
        image = image.resize(options.size, Image.Resampling.NEAREST)
    if what == "label" and options.palette is not None and image.mode in ("RGB", "RGBA"):
        return options.palette.to_ids(np.asarray(image.convert("RGB")))[0]
    return map_to_array(image, source, what)


def read_maps(
    key: str, label: tuple[bytes, str], instance: tuple[bytes, str] | None, options: ReadOptions
) -> Loaded:
    """Decode and check one label map (and instance map): ``(bytes, source name)`` each.

    Raises:
        BadSampleError: naming the file: unreadable or truncated, colour labels, class ids the model
            does not know (listed), an instance map of another size.
    """
    if options.image_input:
        label_array = _input_image(*label, options)
    else:
        label_array = _label_ids(_map(*label, "label", options), label[1], options)
    instance_array = None
    if instance is not None:
        raw = decode_image(*instance)
        if options.size is None and raw.size != (label_array.shape[1], label_array.shape[0]):
            raise BadSampleError(
                f"{instance[1]}: instance map is {raw.size[0]}x{raw.size[1]}, "
                f"{'input image' if options.image_input else 'label map'} {label_array.shape[1]}x{label_array.shape[0]} ({label[1]})"
            )
        instance_array = _map(*instance, "instance", options)
    return Loaded(key, label[1], label_array, instance_array)


def _input_image(data: bytes, source: str, options: ReadOptions) -> np.ndarray:
    """An input image as uint8 [H, W, input_nc], resized (bicubic) to ``options.size``."""
    image = decode_image(data, source).convert("L" if options.input_nc == 1 else "RGB")
    if options.size is not None and image.size != options.size:
        image = image.resize(options.size, Image.Resampling.BICUBIC)
    return np.asarray(image).reshape(image.height, image.width, -1)


def _label_ids(label_array: np.ndarray, source: str, options: ReadOptions) -> np.ndarray:
    """A label map's file values as the model's class ids, checked."""
    files = options.files
    if files is not None and (files.offset or files.ignore_index != options.ignore_index):
        outside = files.out_of_range(np.unique(label_array).tolist())
        if outside:
            unlabeled = "none" if files.ignore_index is None else files.ignore_index
            raise BadSampleError(f"{source}: label values {format_values(outside)} are neither a class "
                                 f"({files.offset}..{files.offset + files.label_nc - 1} in the files) nor the "
                                 f"unlabeled value ({unlabeled})")
        label_array = files.apply(label_array)
    values = invalid_label_values(label_array, options.label_nc, ignore_index=options.ignore_index)
    if values:
        if values == [255] and options.ignore_index is None:
            hint = "; 255 for unlabeled pixels? this model has no ignore value: map them to a class first"
        elif values == [255]:
            hint = "; 255 for unlabeled pixels? pass --ignore-index 255"
        elif min(values) >= options.label_nc and not (files and files.offset):
            hint = "; masks numbered from 1? pass --label-offset 1 (and --ignore-index 0 when 0 is unlabeled)"
        else:
            hint = ""
        raise BadSampleError(
            f"{source}: label values {format_values(values)} are not classes of this model "
            f"(it knows 0..{options.label_nc - 1}"
            + (f" and {options.ignore_index} as unlabeled)" if options.ignore_index is not None else ")") + hint
        )
    return label_array


def _read_file(path: Path) -> tuple[bytes, str]:
    try:
        return path.read_bytes(), str(path)
    except OSError as error:
        raise BadSampleError(f"{path}: cannot read ({error.strerror or error})") from error


def is_shard_input(spec: str) -> bool:
    """Shard URLs (``pipe:``, ``.tar`` files, brace patterns of them) rather than image files."""
    if spec.startswith("pipe:"):
        return True
    first = wds.shardlists.expand_urls(spec.split("::")[0])[0]
    return first.endswith(SHARD_SUFFIXES)


def find_input_files(labels: str, instances: str | None) -> tuple[list[SampleFiles], list[Failed], list[str]]:
    """Label files (a file, a folder searched recursively or a glob) paired by stem with instance files.

    Returns the samples, the labels that cannot be used (no instance map, duplicate
    stems) and warnings (instance maps without a label).
    """
    label_path = Path(labels)
    if label_path.is_file() and instances and Path(instances).is_file():  # two files: pair them whatever their names
        return [SampleFiles(label_path.stem, label_path, Path(instances))], [], []
    label_files = list_images(labels)
    if not label_files:
        kind = "folder" if label_path.is_dir() else "path or glob"
        raise FileNotFoundError(f"no label maps or input images (.png, .jpg, ...) found in the {kind} {labels}")
    instance_files = None
    if instances:
        instance_files = list_images(instances)
        if not instance_files:
            raise FileNotFoundError(f"no instance maps found in {instances}")
    samples, unpaired = pair_files(label_files, instance_files, None, require_images=False)
    failed, warnings = [], []
    for item in unpaired:
        if "without a label map" in item.reason:
            warnings.append(f"{item.path}: {item.reason}")
        else:
            failed.append(Failed(item.path.stem, str(item.path), item.reason))
    return samples, failed, warnings


class FileInputs(Dataset):
    """Reads ``SampleFiles`` (map-style, so DataLoader workers keep the order)."""

    def __init__(self, samples: list[SampleFiles], options: ReadOptions) -> None:
        self.samples, self.options = samples, options

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> Loaded | Failed:
        sample = self.samples[index]
        try:
            instance = None
            if self.options.instances:
                if sample.instance is None:
                    raise BadSampleError(f"{sample.label}: no instance map (pass --instances, or --instance-edges false)")
                instance = _read_file(sample.instance)
            return read_maps(sample.key, _read_file(sample.label), instance, self.options)
        except BadSampleError as error:
            return Failed(sample.key, str(sample.label), str(error))


class ShardInputs(IterableDataset):
    """Reads ``label.png`` / ``inst.png`` of every sample in WebDataset shards; workers take every n-th shard."""

    def __init__(self, urls: str, options: ReadOptions) -> None:
        self.urls, self.options = expand_urls(urls), options

    def __iter__(self) -> Iterator[Loaded | Failed]:
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info else (0, 1)
        for url in self.urls[worker::workers]:
            reasons: list[str] = []

            def keep_going(error: Exception, url: str = url) -> bool:
                reason = tar_error_reason(error, url)
                if reason not in reasons:  # webdataset reports one truncation twice
                    reasons.append(reason)
                return True

            reported = 0
            for sample in wds.tariterators.tarfile_samples([{"url": url}], handler=keep_going):
                yield from (Failed("?", url, reason) for reason in reasons[reported:])
                reported = len(reasons)
                if not any("truncated" in reason for reason in reasons):  # else the sample cut short: reported
                    yield self._read(sample, url)
            yield from (Failed("?", url, reason) for reason in reasons[reported:])

    def _read(self, sample: dict, url: str) -> Loaded | Failed:
        key = sample["__key__"]
        where = f"{url}:{key}"
        try:
            safe_key(key, where)
            wanted = INPUT_EXTENSIONS if self.options.image_input else ("label.png",)
            name = next((k for k in wanted if k in sample), None)
            if name is None:
                raise BadSampleError(f"{where}: no {'input image (input.png / input.jpg)' if self.options.image_input else 'label.png'} "
                                     "in the sample")
            instance = None
            if self.options.instances:
                if "inst.png" not in sample:
                    raise BadSampleError(f"{where}: no inst.png, and the model was trained with instance maps (or --instance-edges false)")
                instance = (sample["inst.png"], f"{where} inst.png")
            return read_maps(key, (sample[name], f"{where} {name}"), instance, self.options)
        except BadSampleError as error:
            return Failed(key, where, str(error))

