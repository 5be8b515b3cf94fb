import pytest

from hrgan.data.layouts import find_samples, sample_key


def touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def test_known_suffixes_are_stripped():
    from pathlib import Path

    assert sample_key(Path("aachen_000000_000019_gtFine_labelIds.png")) == "aachen_000000_000019"
    assert sample_key(Path("aachen_000000_000019_leftImg8bit.jpg")) == "aachen_000000_000019"
    assert sample_key(Path("17.JPG")) == "17"


def test_pairs_by_stem_and_reports_a_missing_partner(tmp_path):
    for name in ("a", "b", "c"):
        touch(tmp_path / "train_label" / f"{name}.png")
        touch(tmp_path / "train_inst" / f"{name}.png")
    touch(tmp_path / "train_img" / "a.jpg")
    touch(tmp_path / "train_img" / "c.jpg")
    touch(tmp_path / "train_img" / "z.jpg")  # no label
    samples, unpaired = find_samples("pix2pixhd", tmp_path, "train")
    assert [s.key for s in samples] == ["a", "c"]  # sort order would have paired b's label with c's photo
    assert samples[1].image.name == "c.jpg" and samples[1].instance.name == "c.png"
    reasons = {u.path.name: u.reason for u in unpaired}
    assert "no image" in reasons["b.png"] and "without a label" in reasons["z.jpg"]


def test_missing_images_can_be_allowed(tmp_path):
    touch(tmp_path / "test_label" / "a.png")
    samples, unpaired = find_samples("pix2pixhd", tmp_path, "test", require_images=False)
    assert [s.key for s in samples] == ["a"] and samples[0].image is None and not unpaired


def test_cityscapes_tree(tmp_path):
    for city, frame in (("aachen", "aachen_000000_000019"), ("bochum", "bochum_000000_000313")):
        touch(tmp_path / "gtFine/train" / city / f"{frame}_gtFine_labelIds.png")
        touch(tmp_path / "gtFine/train" / city / f"{frame}_gtFine_instanceIds.png")
        touch(tmp_path / "gtFine/train" / city / f"{frame}_gtFine_color.png")  # ignored
        touch(tmp_path / "leftImg8bit/train" / city / f"{frame}_leftImg8bit.png")
    samples, unpaired = find_samples("cityscapes", tmp_path, "train")
    assert [s.key for s in samples] == ["aachen_000000_000019", "bochum_000000_000313"] and not unpaired


def test_folders_layout_with_globs(tmp_path):
    touch(tmp_path / "A/seq0/x_leftImg8bit.png")
    touch(tmp_path / "B/seq0/x_leftImg8bit.jpg")
    samples, _ = find_samples("folders", tmp_path, "train", labels="A", images="B/**/*.jpg")
    assert samples[0].key == "x"
    with pytest.raises(ValueError, match="--labels"):
        find_samples("folders", tmp_path, "train")
    with pytest.raises(FileNotFoundError, match="no label maps"):
        find_samples("pix2pixhd", tmp_path, "val")


def test_duplicate_keys_are_reported(tmp_path):
    touch(tmp_path / "train_label" / "a.png")
    touch(tmp_path / "train_label" / "sub" / "a.png")
    touch(tmp_path / "train_img" / "a.png")
    samples, unpaired = find_samples("pix2pixhd", tmp_path, "train")
    assert len(samples) == 1 and "duplicate" in unpaired[0].reason
