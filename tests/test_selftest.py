import json

import numpy as np
from PIL import Image

from hrgan.cli import main


def test_selftest_trains_and_writes_outputs(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty"))
    assert main(["selftest", "--out", str(tmp_path / "st"), "--steps", "8", "--device", "cpu"]) == 0
    report = json.loads((tmp_path / "st" / "selftest.json").read_text())
    assert report["ok"] and len(report["losses"]) == 8
    assert report["vgg_loss"].startswith("off")
    assert report["losses"][-1]["D"] < report["losses"][0]["D"]
    sample = np.asarray(Image.open(tmp_path / "st" / "sample.png"))
    assert sample.shape == (64, 3 * 128, 3)


def test_selftest_rejects_bad_sizes(capsys):
    try:
        main(["selftest", "--size", "100x64"])
    except SystemExit as exit_:
        assert exit_.code == 2
    assert "multiples of 32" in capsys.readouterr().err
