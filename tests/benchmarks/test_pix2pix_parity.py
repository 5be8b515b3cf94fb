"""benchmarks/pix2pix_parity.py: our pix2pix networks beside the reference's code (never in this repository)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CHECKOUT = os.environ.get("PIX2PIX_REPO")  # a checkout of github.com/junyanz/pytorch-CycleGAN-and-pix2pix


def run(*args):
    return subprocess.run([sys.executable, "benchmarks/pix2pix_parity.py", *args], cwd=REPO, capture_output=True,
                          text=True)


def test_without_a_checkout_it_says_how_to_get_one_and_a_wrong_folder_is_refused(tmp_path):
    done = run()
    assert done.returncode == 0 and "skipped" in done.stdout
    assert "github.com/junyanz/pytorch-CycleGAN-and-pix2pix" in done.stdout
    done = run("--reference-repo", str(tmp_path))
    assert done.returncode == 2 and "not a pytorch-CycleGAN-and-pix2pix checkout" in done.stderr
    done = run("--reference-repo", str(tmp_path / "none"))
    assert done.returncode == 2 and "no such folder" in done.stderr


@pytest.mark.skipif(not CHECKOUT, reason="set PIX2PIX_REPO to a checkout of junyanz/pytorch-CycleGAN-and-pix2pix")
def test_reference_networks_equal_ours_with_their_weights(tmp_path):
    out = tmp_path / "report.json"
    done = run("--reference-repo", CHECKOUT, "--ngf", "8", "--out", str(out))
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["parity"] and [r["network"] for r in report["rows"]] == ["unet_256", "unet_128", "basic D"]
    for row in report["rows"]:
        assert row["reference_params"] == row["ours_params"], row
        assert row["train_max_abs_diff"] == row["eval_max_abs_diff"] == 0.0, row
    assert not (REPO / "pix2pix_reference_networks.py").exists()  # copied into a temp folder only
    assert not (REPO / "benchmarks" / "pix2pix_reference_networks.py").exists()
