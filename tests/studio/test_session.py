"""The studio's rendering: styles stay put between edits, a style change touches only its object's pixels."""

import numpy as np
import pytest
import torch

from hrgan.studio.canvas import Canvas
from hrgan.studio.session import StudioSession
from tests.studio.conftest import LABEL_NC


def scene():
    canvas = Canvas.blank(64, 32, fill=0, label_nc=LABEL_NC)
    canvas.brush([(4, 20), (60, 20)], radius=4, cls=1)
    left = canvas.brush([(16, 10)], radius=5, cls=5, new_object=True)
    right = canvas.brush([(46, 10)], radius=5, cls=5, new_object=True)
    return canvas, left, right


def test_a_style_change_changes_only_that_objects_pixels(synth):
    canvas, left, right = scene()
    session = StudioSession(synth, canvas, seed=1)
    before = session.render().photo
    chosen = (session.cluster_of(left, 5) + 1) % 4
    after = session.restyle(left, chosen)
    changed = np.any(after.photo != before, axis=2)
    assert changed.any() and not changed[canvas.instance != left].any()
    assert session.cluster_of(left, 5) == chosen and after.seconds > 0
    with pytest.raises(ValueError, match="no instance"):
        session.restyle(999_999, 0)


def test_styles_stay_put_when_another_part_is_edited(synth):
    canvas, left, right = scene()
    session = StudioSession(synth, canvas, seed=1)
    clusters = (session.cluster_of(left, 5), session.cluster_of(right, 5))
    features = session.style().features
    canvas.brush([(60, 2)], radius=2, cls=3)  # paint far from both objects
    assert (session.cluster_of(left, 5), session.cluster_of(right, 5)) == clusters
    both = torch.from_numpy((canvas.instance == left) | (canvas.instance == right))
    assert torch.equal(session.style().features[0][:, both], features[0][:, both])
    redraws = {session.restyle(left, None) and session.cluster_of(left, 5) for _ in range(8)}
    assert len(redraws) > 1  # "random" draws anew each time


def test_only_a_composited_photo_is_kept_with_an_undo_step(synth):
    canvas, left, right = scene()
    session = StudioSession(synth, canvas, seed=1)
    session.render()
    session.apply(lambda c: c.brush([(30, 28)], 2, 3))
    assert session.canvas.history.last.photo is None  # a render of the maps: undo renders it again
    composite = session.restyle(left, (session.cluster_of(left, 5) + 1) % 4).photo
    session.apply(lambda c: c.brush([(60, 28)], 2, 3))
    assert session.canvas.history.last.photo is not None  # the restyle's photo, which no render gives
    assert np.array_equal(session.undo().photo, composite)
    assert np.array_equal(session.redo().photo, session.render().photo)
