import pytest
import torch

from hrgan.data.augment import GPUAugment

PALETTE = torch.tensor([[-1.0, -1.0, -1.0], [1.0, -1.0, -1.0], [-1.0, 1.0, -1.0], [-1.0, -1.0, 1.0], [1.0, 1.0, 1.0]])


def blocky_batch(b=3, h=64, w=128, block=8):
    """Labels in blocks of block x block pixels, a photo that is the label's colour, instances = label * 1000 + block index."""
    cells = torch.randint(1, 5, (b, h // block, w // block))
    label = cells.repeat_interleave(block, 1).repeat_interleave(block, 2)
    index = torch.arange(cells[0].numel()).view(cells.shape[1:]).repeat_interleave(block, 0).repeat_interleave(block, 1)
    inst = (label * 1000 + index).int()
    image = PALETTE[label].permute(0, 3, 1, 2).contiguous()
    return {"image": image, "label": label, "inst": inst, "key": ["a"] * b}


def test_crop_and_flip_keep_photo_and_maps_aligned():
    batch = blocky_batch(h=32)
    out = GPUAugment(size=(64, 32), seed=1)(batch)  # 128x32 covers 64x32 at scale 1: crop, no resampling
    assert out["image"].shape == (3, 3, 32, 64) and out["label"].shape == (3, 32, 64)
    torch.testing.assert_close(out["image"], PALETTE[out["label"]].permute(0, 3, 1, 2))
    torch.testing.assert_close(out["inst"] // 1000, out["label"].int())


def test_flips_happen():
    batch = blocky_batch(b=16)
    out = GPUAugment(seed=0)(batch)
    flipped = [not torch.equal(o, i) for o, i in zip(out["label"], batch["label"], strict=True)]
    assert 0 < sum(flipped) < 16
    assert all(torch.equal(o, i.flip(-1)) for o, i, f in zip(out["label"], batch["label"], flipped, strict=True) if f)


def test_resize_keeps_the_set_of_labels_and_geometry():
    batch = blocky_batch(block=16)
    out = GPUAugment(size=(96, 48), scale_range=(1.0, 1.6), seed=2)(batch)
    for before, after in zip(batch["label"], out["label"], strict=True):
        assert set(after.unique().tolist()) <= set(before.unique().tolist())  # nothing invented (no 0 from padding)
    assert set(out["inst"].unique().tolist()) <= set(batch["inst"].unique().tolist())
    # away from block borders the resampled photo still shows its label's colour
    label = out["label"]
    window_max = torch.nn.functional.max_pool2d(label[:, None].float(), 5, stride=1, padding=2)[:, 0]
    window_min = -torch.nn.functional.max_pool2d(-label[:, None].float(), 5, stride=1, padding=2)[:, 0]
    interior = window_max == window_min  # the whole 5x5 neighbourhood has one label
    interior[:, :2], interior[:, -2:], interior[:, :, :2], interior[:, :, -2:] = False, False, False, False
    expected = PALETTE[label].permute(0, 3, 1, 2)
    error = (out["image"] - expected).abs().amax(1)
    assert interior.float().mean() > 0.5
    assert error[interior].max() < 1e-3


def test_uint8_photos_are_converted_and_validation_is_deterministic():
    batch = blocky_batch(h=32)
    batch["image"] = ((batch["image"] + 1) * 127.5).round().to(torch.uint8)
    augment = GPUAugment(size=(64, 32), scale_range=(1.0, 2.0), color_jitter=0.3, seed=0)
    a, b = augment(batch, random=False), augment(batch, random=False)
    assert a["image"].dtype == torch.float32 and a["image"].min() >= -1 and a["image"].max() <= 1
    torch.testing.assert_close(a["image"], b["image"])
    torch.testing.assert_close(a["label"], batch["label"][:, :, 32:96])  # centre crop, no zoom


def test_colour_jitter_touches_only_the_photo():
    batch = blocky_batch()
    out = GPUAugment(flip=False, color_jitter=0.4, seed=0)(batch)
    assert torch.equal(out["label"], batch["label"]) and not torch.allclose(out["image"], batch["image"])


def test_zooming_out_is_refused():
    with pytest.raises(ValueError, match="padding"):
        GPUAugment(scale_range=(0.8, 1.2))
