import json

import numpy as np
from PIL import Image

from hrgan.cli import main


def test_selftest_trains_through_the_real_pipeline(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty"))
    assert main(["selftest", "--out", str(tmp_path / "st"), "--steps", "6", "--device", "cpu"]) == 0
    report = json.loads((tmp_path / "st" / "selftest.json").read_text())
    assert report["ok"] and len(report["losses"]) == 6 and report["vgg_loss"].startswith("off")
    assert {"loss/G/gan", "loss/G/feat", "loss/G/l1", "loss/D/real", "loss/D/fake"} <= set(report["losses"][-1])
    grid = np.asarray(Image.open(tmp_path / "st" / "samples" / "latest.png"))
    assert grid.shape == (2 * 64, 4 * 128, 3) and grid.std() > 10
    assert "6 iterations" in capsys.readouterr().out


def test_selftest_rejects_bad_sizes(capsys):
    try:
        main(["selftest", "--size", "100x64"])
    except SystemExit as exit_:
        assert exit_.code == 2
    assert "multiples of 32" in capsys.readouterr().err
