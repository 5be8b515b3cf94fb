"""Decoding WebDataset samples (bytes per extension) into tensors."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from hrgan.conditioning import format_values, invalid_label_values
from hrgan.data.images import BadSampleError, decode_image, map_to_array, photo_to_array
from hrgan.data.names import safe_key
from hrgan.pixels import from_uint8

IMAGE_EXTENSIONS = ("img.png", "img.jpg", "img.jpeg", "img.webp", "img.bmp", "img.tif", "img.tiff")
INPUT_EXTENSIONS = tuple(name.replace("img.", "input.") for name in IMAGE_EXTENSIONS)


def _cover_crop(image: Image.Image, size: tuple[int, int], resample: Image.Resampling) -> Image.Image:
    """Resize so the image covers ``size`` (keeping its aspect), then crop the centre to exactly ``size``."""
    width, height = size
    scale = max(width / image.width, height / image.height)
    new = (max(width, round(image.width * scale)), max(height, round(image.height * scale)))
    if new != image.size:
        image = image.resize(new, resample)
    left, top = (image.width - width) // 2, (image.height - height) // 2
    return image.crop((left, top, left + width, top + height)) if image.size != size else image


def decode_sample(
    sample: dict,
    *,
    require_image: bool = True,
    load_size: tuple[int, int] | None = None,
    image_dtype: str = "float32",
    label_nc: int | None = None,
    ignore_index: int | None = None,
    input_nc: int = 3,
) -> dict:
    """One raw sample -> tensors.

    Returns a dict with ``key`` (str), ``label`` int64 [H, W] or, for image inputs (``input.<ext>``),
    ``input`` [input_nc, H, W] (1: greyscale, 3: RGB; dtype as ``image``), ``inst`` int32 [H, W]
    (when the sample has one) and ``image`` [3, H, W] (float32 in [-1, 1], or uint8
    when ``image_dtype="uint8"``, converted on the GPU later). With ``load_size``
    (W, H) every modality is resized to cover it and centre-cropped (nearest for maps),
    so samples of different sizes can share a batch. With ``label_nc`` the label values must lie in
    [0, label_nc) (``ignore_index`` excepted).

    Raises:
        BadSampleError: a missing or undecodable part, parts of different sizes, label values out of
            range, or a key that could not name a file (absolute, ``..``; see ``hrgan.data.names``).
    """
    key = sample.get("__key__", "?")
    where = f"{sample.get('__url__', '?')}:{key}"
    safe_key(key, where)
    input_key = "label.png" if "label.png" in sample else next((k for k in INPUT_EXTENSIONS if k in sample), None)
    if input_key is None or (label_nc == 0 and input_key == "label.png"):
        expected = "an input image (input.png / input.jpg)" if label_nc == 0 else "label.png"
        raise BadSampleError(f"{where}: no {expected} in the sample (has {sorted(k for k in sample if not k.startswith('__'))})")
    if label_nc and input_key != "label.png":
        raise BadSampleError(f"{where}: the sample holds an input image ({input_key}), not a label map: these shards "
                             "were written with --input image, for a model with label_nc 0")
    label_image = decode_image(sample[input_key], f"{where} {input_key}")
    inst_image = decode_image(sample["inst.png"], f"{where} inst.png") if "inst.png" in sample else None
    image_key = next((k for k in IMAGE_EXTENSIONS if k in sample), None)
    if image_key is None and require_image:
        raise BadSampleError(f"{where}: no photo (img.png / img.jpg) in the sample")
    photo = decode_image(sample[image_key], f"{where} {image_key}") if image_key else None
    for part, image in (("inst.png", inst_image), (image_key, photo)):
        if image is not None and image.size != label_image.size:
            raise BadSampleError(f"{where}: {part} is {image.size[0]}x{image.size[1]}, {input_key} {label_image.size[0]}x{label_image.size[1]}")
    if input_key != "label.png":
        label_image = label_image.convert("L" if input_nc == 1 else "RGB")
    if load_size is not None:
        resample = Image.Resampling.NEAREST if input_key == "label.png" else Image.Resampling.BICUBIC
        label_image = _cover_crop(label_image, load_size, resample)
        inst_image = _cover_crop(inst_image, load_size, Image.Resampling.NEAREST) if inst_image else None
        photo = _cover_crop(photo.convert("RGB"), load_size, Image.Resampling.BICUBIC) if photo else None
    out = {"key": key}
    if input_key != "label.png":
        out["input"] = _pixels(label_image, image_dtype)  # L or RGB, as input_nc says
    else:
        out["label"] = _label(label_image, where, label_nc, ignore_index)
    if inst_image is not None:
        out["inst"] = torch.from_numpy(map_to_array(inst_image, where, "instance").astype(np.int32))
    if photo is not None:
        out["image"] = _pixels(photo.convert("RGB"), image_dtype)  # greyscale photos too: always 3 channels
    return out


def _pixels(image: Image.Image, image_dtype: str) -> torch.Tensor:
    """A photo as [C, H, W]: uint8, or float32 in [-1, 1]."""
    array = np.asarray(image) if image.mode == "L" else photo_to_array(image)
    pixels = torch.from_numpy(np.ascontiguousarray(array.reshape(*array.shape[:2], -1))).permute(2, 0, 1)
    return pixels.contiguous() if image_dtype == "uint8" else from_uint8(pixels)


def _label(label_image: Image.Image, where: str, label_nc: int | None, ignore_index: int | None) -> torch.Tensor:
    label = map_to_array(label_image, where, "label")
    if label_nc is not None:
        values = invalid_label_values(label, label_nc, ignore_index=ignore_index)
        if values:
            raise BadSampleError(f"{where} label.png: label values {format_values(values)} outside [0, {label_nc})"
                                 + (f" other than ignore_index {ignore_index}" if ignore_index is not None else ""))
    return torch.from_numpy(label)


def collate(samples: list[dict]) -> dict:
    """Stack decoded samples into a batch; ``key`` becomes a list."""
    batch: dict = {"key": [s["key"] for s in samples]}
    for name in ("label", "input", "inst", "image"):
        present = [s[name] for s in samples if name in s]
        if not present:
            continue
        if len(present) != len(samples):
            raise ValueError(f"some samples in the batch lack '{name}': {batch['key']}")
        shapes = {tuple(t.shape) for t in present}
        if len(shapes) > 1:
            raise ValueError(
                f"samples of different sizes in one batch ({sorted(shapes)}, keys {batch['key']}); "
                "resize them once with 'hrgan shards --size WxH', or on load with --data.load_size [W,H] (fit) "
                "or --load-size WxH (evaluate)"
            )
        batch[name] = torch.stack(present)
    return batch
