"""Label-safe augmentation on the GPU, applied to a batch after it reaches the device.

Geometry is identical for the photo, the label map (or input image) and the instance map:
resize to cover the stage's resolution (pix2pixHD's scale_width generalised to
both sides), an optional random extra scale, a random crop, and a random
horizontal flip. Input images are resampled as the photo is. Maps are resampled with centre-aligned nearest neighbour
("nearest-exact": plain "nearest" samples up to a pixel off the bilinear
grid the photo uses, misaligning labels and photo); nothing ever pads,
so no pixel gets a label it did not have (kornia fills padded mask pixels with
0, which would invent class 0). Colour jitter touches the photo only.
"""

from __future__ import annotations

import math

import kornia
import torch
from torch import nn

from hrgan.pixels import from_uint8


def image_to_float(image: torch.Tensor) -> torch.Tensor:
    """uint8 [B, 3, H, W] -> float in [-1, 1]; float input is returned as is."""
    return from_uint8(image) if image.dtype == torch.uint8 else image


class GPUAugment(nn.Module):
    """Resize / scale / crop / flip / colour-jitter a batch dict (``image``, ``label`` or ``input``, optional ``inst``).

    Args:
        size: output (W, H), e.g. the current stage's resolution; None keeps the input size.
        scale_range: extra random zoom (min, max) >= 1 applied on top of the cover scale;
            (1, 1) only resizes and crops.
        flip: random horizontal flips (p = 0.5).
        color_jitter: strength of brightness/contrast/saturation jitter (hue a quarter of it);
            0 turns it off.
        seed: seed of this module's random generator (give each rank its own).
    """

    def __init__(
        self,
        *,
        size: tuple[int, int] | None = None,
        scale_range: tuple[float, float] = (1.0, 1.0),
        flip: bool = True,
        color_jitter: float = 0.0,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if scale_range[0] < 1.0 or scale_range[1] < scale_range[0]:
            raise ValueError(f"scale_range must satisfy 1 <= min <= max (zooming out would need padding), got {scale_range}")
        self.size = tuple(size) if size is not None else None
        self.scale_range = tuple(scale_range)
        self.flip = flip
        self.jitter = (
            kornia.augmentation.ColorJitter(color_jitter, color_jitter, color_jitter, color_jitter / 4, p=1.0)
            if color_jitter > 0
            else None
        )
        self.generator = torch.Generator().manual_seed(seed)

    def set_size(self, size: tuple[int, int] | None) -> None:
        """Change the output resolution (progressive growth)."""
        self.size = tuple(size) if size is not None else None

    def _uniform(self, low: float, high: float) -> float:
        return low + (high - low) * float(torch.rand((), generator=self.generator))

    def forward(self, batch: dict, *, random: bool = True) -> dict:
        """Augment ``batch``; with ``random=False`` only resize and centre-crop (validation)."""
        photos = {name: image_to_float(batch[name]) for name in ("image", "input") if name in batch}
        maps = {name: batch[name] for name in ("label", "inst") if name in batch}
        b, h, w = next(iter(photos.values()))[:, 0].shape if photos else batch["label"].shape
        out_w, out_h = self.size or (w, h)
        pieces: dict[str, list[torch.Tensor]] = {name: [] for name in (*photos, *maps)}
        for i in range(b):
            zoom = self._uniform(*self.scale_range) if random else 1.0
            scale = max(out_w / w, out_h / h) * zoom
            new_h, new_w = max(out_h, math.ceil(h * scale - 1e-6)), max(out_w, math.ceil(w * scale - 1e-6))
            parts = {name: image[i : i + 1] for name, image in photos.items()}
            parts.update({name: m[i : i + 1, None].float() for name, m in maps.items()})  # ids < 2**24 are exact in float32
            if (new_h, new_w) != (h, w):
                for name, part in parts.items():
                    mode = {"interpolation": "bilinear", "antialias": True} if name in photos else {"interpolation": "nearest-exact"}
                    parts[name] = kornia.geometry.transform.resize(part, (new_h, new_w), **mode)
            if random:
                top = int(torch.randint(0, new_h - out_h + 1, (), generator=self.generator))
                left = int(torch.randint(0, new_w - out_w + 1, (), generator=self.generator))
            else:
                top, left = (new_h - out_h) // 2, (new_w - out_w) // 2
            flip = random and self.flip and bool(torch.rand((), generator=self.generator) < 0.5)
            for name, part in parts.items():
                part = part[:, :, top : top + out_h, left : left + out_w]
                pieces[name].append(kornia.geometry.transform.hflip(part) if flip else part)
        out = dict(batch)
        out.update({name: torch.cat(pieces[name]) for name in photos})
        out.update({name: torch.cat(pieces[name])[:, 0].round().to(m.dtype) for name, m in maps.items()})
        if random and self.jitter is not None and "image" in out:
            out["image"] = self._jitter(out["image"])
        return out

    def _jitter(self, image: torch.Tensor) -> torch.Tensor:
        # kornia draws its factors from the global RNG, which checkpoints restore only at the step
        # boundary they were saved at; seeding it from this module's generator (and putting it back
        # after) makes the jitter part of the state a resumed run restores.
        seed = int(torch.randint(0, 2**62, (), generator=self.generator))
        devices = [image.device] if image.device.type != "cpu" else []
        with torch.random.fork_rng(devices=devices, device_type=image.device.type if devices else "cuda"):
            torch.random.default_generator.manual_seed(seed)
            for device in devices:
                torch.get_device_module(device.type).manual_seed(seed)
            return self.jitter((image + 1) / 2) * 2 - 1
