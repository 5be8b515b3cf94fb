import json

import numpy as np

from hrgan.cli import main
from hrgan.data.synthetic import BUILDING, CAR, CLASSES, INSTANCE_OFFSET, LABEL_NC, PERSON, generate, render_photo, sample_scene


def test_same_seed_same_scene_other_seed_other_scene():
    a = generate(7, 2, 256, 128)
    b = generate(7, 2, 256, 128)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(generate(8, 2, 256, 128)[0], a[0])
    assert not np.array_equal(generate(7, 3, 256, 128)[0], a[0])


def test_at_least_8_classes_and_several_instances():
    assert LABEL_NC == len(CLASSES) >= 8
    seen = set()
    for index in range(4):
        label, instance, photo = generate(0, index, 256, 128)
        assert label.dtype == np.uint8 and instance.dtype == np.int32 and photo.shape == (128, 256, 3)
        seen |= set(np.unique(label).tolist())
        cars = {i for i in np.unique(instance) if i // INSTANCE_OFFSET == CAR}
        people = {i for i in np.unique(instance) if i // INSTANCE_OFFSET == PERSON}
        assert len(cars) >= 2 and len(people) >= 1
        # instance ids agree with the label map: class * 1000 + k for things, the class id for stuff
        np.testing.assert_array_equal(np.where(instance >= INSTANCE_OFFSET, instance // INSTANCE_OFFSET, instance), label)
    assert seen == set(range(LABEL_NC))


def test_touching_instances_of_one_class_exist():
    label, instance, _ = generate(0, 0, 512, 256)
    same_class = label[:, 1:] == label[:, :-1]
    different_instance = instance[:, 1:] != instance[:, :-1]
    touching = same_class & different_instance & (label[:, 1:] == CAR)
    assert touching.any(), "parked cars should touch"


def test_one_scene_at_every_resolution():
    small = generate(1, 0, 256, 128)[0]
    large = generate(1, 0, 1024, 512)[0]
    agreement = (large[2::4, 2::4] == small).mean()
    assert agreement > 0.97


def test_photo_is_a_function_of_the_maps_plus_instance_colours():
    scene = sample_scene(0, 0)
    label, instance, photo = generate(0, 0, 256, 128)
    present = {k: v for k, v in scene.appearance.items() if k in set(np.unique(instance).tolist())}
    np.testing.assert_array_equal(render_photo(label, instance, present), photo)
    recoloured = render_photo(label, instance, {k: (255, 0, 255) for k in present})
    changed = (recoloured != photo).any(axis=2)
    assert changed.any()
    assert np.isin(label[changed], [CAR, PERSON]).all()  # only cars and shirts carry per-instance colour


def test_fine_detail_only_shows_at_full_resolution():
    label, _, photo = generate(0, 1, 1024, 512)
    photo = photo.astype(float)
    blurred = photo.reshape(256, 2, 512, 2, 3).mean(axis=(1, 3)).repeat(2, 0).repeat(2, 1)
    loss = np.abs(photo - blurred).mean(axis=2)
    assert loss[label == BUILDING].mean() > 8  # window grids
    assert loss.mean() > 3


def test_command_writes_pix2pixhd_layout(tmp_path, capsys):
    assert main(["synth", "--out", str(tmp_path), "--num", "3", "--size", "64x32", "--split", "val", "--workers", "1"]) == 0
    for folder in ("val_label", "val_inst", "val_img"):
        assert len(list((tmp_path / folder).iterdir())) == 3
    classes = json.loads((tmp_path / "classes.json").read_text())
    assert classes["label_nc"] == LABEL_NC and len(classes["names"]) == len(classes["colors"]) == LABEL_NC
