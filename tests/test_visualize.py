import numpy as np
import torch
from PIL import Image

from hrgan.visualize import colorize_labels, default_palette, image_to_uint8, save_png


def test_palette_is_distinct_and_stable():
    palette = default_palette(35)
    assert palette.shape == (35, 3) and palette.dtype == np.uint8
    assert len({tuple(c) for c in palette}) == 35
    np.testing.assert_array_equal(palette, default_palette(35))


def test_colorize_draws_unknown_ids_black():
    palette = default_palette(3)
    out = colorize_labels(torch.tensor([[0, 2], [255, 1]]), palette)
    np.testing.assert_array_equal(out[0, 1], palette[2])
    np.testing.assert_array_equal(out[1, 0], [0, 0, 0])


def test_image_range_and_png_round_trip(tmp_path):
    image = torch.tensor([-1.0, 0.0, 1.0, 2.0]).view(1, 1, 4).expand(3, 1, 4)
    array = image_to_uint8(image)
    np.testing.assert_array_equal(array[0, :, 0], [0, 128, 255, 255])
    save_png(tmp_path / "x.png", array)
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "x.png")), array)
