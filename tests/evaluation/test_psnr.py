import pytest
import torch
from torchmetrics.functional.image import peak_signal_noise_ratio

from hrgan.evaluation.psnr import psnr


def images(seed=0):
    generator = torch.Generator().manual_seed(seed)
    real = torch.rand(3, 3, 16, 24, generator=generator) * 2 - 1
    fake = (real + 0.2 * torch.randn(3, 3, 16, 24, generator=generator)).clamp(-1, 1)
    return fake, real


def test_psnr_is_torchmetrics_on_the_unit_scale_per_image():
    fake, real = images()
    expected = peak_signal_noise_ratio((fake + 1) / 2, (real + 1) / 2, data_range=1.0, reduction="none", dim=(1, 2, 3))
    torch.testing.assert_close(psnr(fake, real), expected, rtol=1e-5, atol=1e-5)


def test_the_mask_scores_only_its_pixels():
    fake, real = images()
    mask = torch.zeros(3, 16, 24, dtype=torch.bool)
    mask[:, :, :12] = True
    fake_elsewhere = fake.clone()
    fake_elsewhere[..., 12:] = -real[..., 12:]  # changes outside the mask leave the score alone
    torch.testing.assert_close(psnr(fake_elsewhere, real, mask), psnr(fake[..., :12], real[..., :12]))
    assert (psnr(fake_elsewhere, real) < psnr(fake_elsewhere, real, mask)).all()


def test_an_exact_match_is_infinite():
    _, real = images()
    assert psnr(real, real).tolist() == [float("inf")] * 3
    assert psnr(-real, real).max() < 10
    assert psnr(-torch.ones(1, 3, 2, 2), torch.ones(1, 3, 2, 2)).item() == pytest.approx(0.0)


def test_an_image_with_no_scored_pixel_is_nan_not_inf():
    real = torch.zeros(2, 3, 4, 4)
    mask = torch.zeros(2, 4, 4, dtype=torch.bool)
    mask[0, :2] = True
    scores = psnr(real + 0.5, real, mask)
    assert torch.isfinite(scores[0]) and torch.isnan(scores[1])
