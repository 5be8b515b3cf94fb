"""The studio's document: exact strokes, fills, objects, erasing, and undo/redo bit for bit."""

import numpy as np
import pytest

from hrgan.studio.canvas import Canvas, connected_region, disc_stroke


def test_a_stroke_writes_only_its_class_inside_its_disc_path():
    canvas = Canvas.blank(40, 20, fill=1, label_nc=5)
    before = canvas.label.copy()
    canvas.brush([(5, 10), (30, 10)], radius=3, cls=3)
    mask = disc_stroke(20, 40, [(5, 10), (30, 10)], 3)
    assert set(np.unique(canvas.label[mask])) == {3} and np.array_equal(canvas.label[~mask], before[~mask])
    assert mask[10, 5:31].all() and mask[7, 15] and not mask[6, 15] and not mask[10, 34]  # radius 3 around y = 10
    assert set(np.unique(canvas.instance[mask])) == {3}  # a class region, not an object: the stuff id
    with pytest.raises(ValueError, match="0..4"):
        canvas.brush([(1, 1)], radius=1, cls=5)


def test_new_objects_get_fresh_ids_of_their_class_and_delete_takes_the_surrounding_class():
    canvas = Canvas.blank(40, 20, fill=0, label_nc=30)
    canvas.brush([(10, 5), (10, 15)], radius=2, cls=1)  # a strip of class 1 left of the objects
    car = canvas.brush([(25, 10)], radius=3, cls=26, new_object=True)
    other = canvas.brush([(33, 10)], radius=2, cls=26, new_object=True)
    assert (car, other) == (26001, 26002) and canvas.object_at(25, 10) == car and canvas.object_at(2, 2) is None
    surrounding = canvas.label.copy()
    canvas.delete_object(car)
    gone = surrounding != canvas.label
    assert gone.any() and set(np.unique(canvas.label[gone])) == {0}  # the class around it
    assert not (canvas.instance == car).any() and (canvas.instance == other).any()
    with pytest.raises(ValueError, match="no object"):
        canvas.delete_object(car)


def test_fill_covers_the_connected_region_only():
    label = np.zeros((10, 12), dtype=np.int64)
    label[:, 6] = 2  # a wall splits class 0 into two regions
    label[4, 2:5] = 1
    canvas = Canvas(label, label_nc=3)
    canvas.fill(0, 0, 1)
    assert (canvas.label[:, :6] == 1).all() and (canvas.label[:, 7:] == 0).all() and (canvas.label[:, 6] == 2).all()
    u = np.zeros((6, 6), dtype=bool)  # a U: its two arms meet through the bottom row
    u[:, 0] = u[:, 5] = u[5] = True
    assert np.array_equal(connected_region(u, 0, 0), u) and not connected_region(u, 2, 2).any()


def test_undo_and_redo_restore_the_maps_bit_for_bit_and_erase_needs_an_unlabeled_value():
    canvas = Canvas.blank(16, 8, fill=2, label_nc=4, unlabeled=255)
    states = [(canvas.label.copy(), canvas.instance.copy())]
    canvas.brush([(3, 3)], radius=2, cls=1)
    states.append((canvas.label.copy(), canvas.instance.copy()))
    canvas.brush([(8, 4)], radius=2, cls=3, new_object=True)
    states.append((canvas.label.copy(), canvas.instance.copy()))
    canvas.erase(disc_stroke(8, 16, [(12, 4)], 2))
    assert 255 in canvas.label
    for label, instance in reversed(states):
        canvas.undo()
        assert np.array_equal(canvas.label, label) and np.array_equal(canvas.instance, instance)
        if not canvas.can_undo:
            break
    with pytest.raises(ValueError, match="nothing to undo"):
        canvas.undo()
    canvas.redo()
    assert np.array_equal(canvas.label, states[1][0])
    canvas.brush([(1, 1)], radius=1, cls=0)  # a new edit drops what could be redone
    assert not canvas.can_redo
    with pytest.raises(ValueError, match="no unlabeled value"):
        Canvas.blank(4, 4, fill=0, label_nc=2).erase(np.ones((4, 4), dtype=bool))


def test_history_keeps_only_the_changed_box_within_its_byte_budget():
    canvas = Canvas.blank(200, 100, fill=0, label_nc=4, max_bytes=50_000)
    canvas.brush([(10, 10)], radius=2, cls=1)
    assert canvas.history.nbytes <= 2 * 5 * 5  # a 5x5 box of uint8 labels and instance ids, not two 200x100 maps
    full = np.ones((100, 200), dtype=bool)
    for cls in (2, 3, 1, 2):  # each full-map edit keeps 2 x 20,000 bytes: one fits 50,000
        canvas.paint(full, cls)
    assert canvas.history.nbytes <= 50_000
    undone = 0
    while canvas.can_undo:
        canvas.undo()
        undone += 1
    assert undone == 1 and (canvas.label == 1).all()  # one full edit back: the newest is kept, older ones dropped
    canvas.redo()
    assert (canvas.label == 2).all()
    one_big = Canvas.blank(200, 100, fill=0, label_nc=4, max_bytes=10)
    one_big.paint(full, 3)  # over the budget on its own: still undoable
    one_big.undo()
    assert (one_big.label == 0).all()


def test_an_object_id_is_never_given_twice_and_an_empty_edit_is_not_remembered():
    canvas = Canvas.blank(40, 20, fill=0, label_nc=30)
    first = canvas.brush([(10, 10)], radius=3, cls=26, new_object=True)
    canvas.delete_object(first)
    canvas.undo()
    canvas.undo()  # the object is gone and undone: its id stays spent
    assert canvas.brush([(10, 10)], radius=3, cls=26, new_object=True) == first + 1
    fresh = Canvas.blank(40, 20, fill=0, label_nc=30)
    assert fresh.paint(np.zeros((20, 40), dtype=bool), 2) is None and not fresh.can_undo


def test_a_fill_with_the_regions_own_class_is_no_edit():
    canvas = Canvas.blank(20, 10, fill=2, label_nc=4)
    canvas.fill(3, 3, 2)
    assert not canvas.can_undo
    canvas.fill(3, 3, 1)
    assert canvas.can_undo and (canvas.label == 1).all()


def test_reverting_a_failed_edit_brings_back_redo_and_what_its_push_dropped():
    canvas = Canvas.blank(20, 10, fill=0, label_nc=4, steps=2)
    canvas.brush([(2, 2)], radius=1, cls=1)
    canvas.brush([(6, 2)], radius=1, cls=2)
    canvas.undo()  # one step to redo, one to undo
    before = canvas.label.copy()
    canvas.brush([(12, 5)], radius=1, cls=3)  # pushing clears redo
    canvas.history.revert()  # the edit failed: as if never made
    assert np.array_equal(canvas.label, before) and canvas.can_redo
    canvas.redo()  # now two steps: the oldest goes when the next is pushed
    canvas.brush([(12, 5)], radius=1, cls=3)
    canvas.history.revert()
    canvas.undo()
    canvas.undo()
    assert (canvas.label == 0).all() and not canvas.can_undo  # the dropped first step came back too
