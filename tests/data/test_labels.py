"""Label conventions: file values to stored ids, and the advice `hrgan shards` prints about the options."""

from collections import Counter

import numpy as np

from hrgan.data.labels import LabelConvention, describe_values, label_advice


def test_offset_and_ignore_map_file_values_to_stored_ids():
    ade = LabelConvention(label_nc=150, ignore_index=0, offset=1)
    np.testing.assert_array_equal(ade.apply(np.array([0, 1, 150])), [255, 0, 149])
    assert ade.out_of_range([0, 1, 150, 151]) == [151] and ade.stored_ignore == 255
    assert LabelConvention(300, 0, 1).stored_ignore == 65535  # 255 is a class there
    coco = LabelConvention(label_nc=182, ignore_index=255)
    np.testing.assert_array_equal(coco.apply(np.array([0, 181, 255])), [0, 181, 255])


def advice(values, **convention):
    return " ".join(label_advice(Counter({v: 10 for v in values}), LabelConvention(**convention)))


def test_advice_names_the_option_that_fixes_a_mismatch():
    assert "pass --label-offset 1 --ignore-index 0" in advice(range(0, 151), label_nc=150, ignore_index=0)
    assert "pass --label-offset 1" in advice(range(1, 13), label_nc=12)
    assert "pass --ignore-index 255" in advice([*range(0, 19), 255], label_nc=19)
    assert "pass --label-nc 36" in advice(range(0, 36), label_nc=35)
    assert "9 of the 12 classes never occur" in advice(range(0, 3), label_nc=12)
    assert advice(range(0, 12), label_nc=12) == "" and advice(range(0, 151), label_nc=150, ignore_index=0, offset=1) == ""
    assert describe_values(Counter({0: 1, 5: 3})) == "0..5 (2 distinct); commonest: 5 75.0%, 0 25.0%"


def test_mismatches_that_would_store_wrong_ids_are_found():
    from hrgan.data.labels import label_mismatch

    counts = Counter({v: 10 for v in range(0, 151)})
    assert label_mismatch(counts, LabelConvention(150, ignore_index=0))  # ADE20K read from 0
    assert not label_mismatch(counts, LabelConvention(150, ignore_index=0, offset=1))
    coco_from_one = Counter({v: 10 for v in [*range(1, 183), 255]})
    assert label_mismatch(coco_from_one, LabelConvention(182, ignore_index=255))
    assert "pass --label-offset 1 --ignore-index 255" in advice([*range(1, 183), 255], label_nc=182, ignore_index=255)
    assert LabelConvention(10, ignore_index=5, offset=1).ignore_is_a_class  # class 4 would be lost
    assert "also class 4" in advice(range(0, 11), label_nc=10, ignore_index=5, offset=1)
    np.testing.assert_array_equal(LabelConvention(4, 200, store_ignore_as=255).apply(np.array([0, 200, 3])), [0, 255, 3])


def test_to_file_inverts_apply_for_classes_and_the_unlabeled_value():
    ade = LabelConvention(150, ignore_index=0, offset=1, store_ignore_as=255)
    files = np.array([0, 1, 2, 150], dtype=np.int64)
    assert np.array_equal(ade.to_file(ade.apply(files.copy())), files)
    assert np.array_equal(ade.to_file(np.array([255, 0, 149])), [0, 1, 150])
    spade = LabelConvention(151, ignore_index=0, offset=1, store_ignore_as=150)  # don't-care read as its last class
    assert np.array_equal(spade.to_file(spade.apply(files.copy())), files)
    same = LabelConvention(8)
    assert np.array_equal(same.to_file(np.array([0, 7])), [0, 7])
