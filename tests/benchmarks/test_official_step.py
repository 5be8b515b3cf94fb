"""benchmarks/official_step.py: the side-by-side with NVIDIA's pix2pixHD (whose code is never in this repository)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CHECKOUT = os.environ.get("PIX2PIXHD_REPO")  # a checkout of github.com/NVIDIA/pix2pixHD, when there is one


def run(*args):
    return subprocess.run([sys.executable, "benchmarks/official_step.py", *args], cwd=REPO, capture_output=True, text=True)


def test_without_a_checkout_it_says_how_to_get_one_and_a_wrong_folder_is_refused(tmp_path):
    done = run()
    assert done.returncode == 0 and "skipped" in done.stdout and "github.com/NVIDIA/pix2pixHD" in done.stdout
    done = run("--official-repo", str(tmp_path))
    assert done.returncode == 2 and "not a pix2pixHD checkout" in done.stderr
    done = run("--official-repo", str(tmp_path / "none"))
    assert done.returncode == 2 and "no such folder" in done.stderr


@pytest.mark.skipif(not CHECKOUT, reason="set PIX2PIXHD_REPO to a checkout of NVIDIA/pix2pixHD")
def test_both_steps_run_and_the_official_generator_equals_ours_with_its_weights(tmp_path):
    out = tmp_path / "report.json"
    done = run("--official-repo", CHECKOUT, "--size", "128x64", "--ngf", "8", "--warmup", "0", "--repeats", "1",
               "--rounds", "1", "--out", str(out))
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(out.read_text())
    parity = report["parity"]
    assert parity["official_G_params"] == parity["ours_G_params"] and parity["official_D_params"] == parity["ours_D_params"]
    assert parity["G_output_max_abs_diff"] == 0.0
    assert report["rounds"][0]["ours_over_official"] > 0
    assert not (REPO / "pix2pixHD").exists() and not (REPO / "benchmarks" / "pix2pixHD").exists()  # patched in a temp folder
