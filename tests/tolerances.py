"""What the hardware guarantees when the same photo is computed another way.

Convolution kernels may pick another blocking or reduction order for another
batch size, thread count or device, so two such results agree to rounding, not
bit for bit. The guarantee a user sees: float outputs within ``FLOAT_ATOL`` on
the [-1, 1] scale, and written photos within one grey level.
"""

from __future__ import annotations

import numpy as np
import torch

FLOAT_ATOL = 1e-5
GREY_LEVELS = 1


def assert_photos_match(a: np.ndarray, b: np.ndarray, levels: int = GREY_LEVELS) -> None:
    """uint8 photos of the same input computed in another batch/thread layout: equal up to ``levels``."""
    assert a.shape == b.shape, (a.shape, b.shape)
    worst = int(np.abs(a.astype(np.int16) - b.astype(np.int16)).max())
    assert worst <= levels, f"photos differ by {worst} grey levels (at most {levels} allowed)"


def assert_outputs_match(a: torch.Tensor, b: torch.Tensor) -> None:
    """[-1, 1] float outputs of the same input computed in another batch/thread layout."""
    torch.testing.assert_close(a, b, atol=FLOAT_ATOL, rtol=0)
