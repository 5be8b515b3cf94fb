"""What every `hrgan X` command shares: help before torch, positive flags, range checks, exit codes, devices."""

import importlib
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from hrgan.commands import COMMANDS
from hrgan.commands.common import DATA_ERROR, USAGE_ERROR

REPO = Path(__file__).resolve().parents[2]
LIGHTNING_CLI = ("fit", "validate")  # their options come from the classes' signatures: Lightning must be imported
PARSED_HERE = [name for name in COMMANDS if name not in LIGHTNING_CLI]


@pytest.mark.parametrize("name", PARSED_HERE)
def test_help_answers_before_torch_is_imported(name):
    probe = ("import sys\nfrom hrgan.cli import main\ntry:\n    main([sys.argv[1], '--help'])\nexcept SystemExit:\n    pass\n"
             "heavy = [m for m in ('torch', 'pytorch_lightning', 'lightning_fabric') if m in sys.modules]\n"
             "print('imported:', heavy)")
    done = subprocess.run([sys.executable, "-c", probe, name], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert f"usage: hrgan {name}" in done.stdout and "imported: []" in done.stdout


@pytest.mark.parametrize("name", PARSED_HERE)
def test_flags_are_positive_and_devices_default_to_auto(name):
    parser = importlib.import_module(COMMANDS[name][0]).build_parser()
    flags = [f for action in parser._actions for f in action.option_strings]
    assert not [f for f in flags if f.startswith("--no-")]
    device = next((a for a in parser._actions if "--device" in a.option_strings), None)
    assert device is None or device.default == "auto"


def test_library_modules_have_no_main():
    offenders = [str(p.relative_to(REPO)) for p in (REPO / "hrgan").rglob("*.py")
                 if "def main(" in p.read_text() and p.parent.name != "commands" and p.name != "cli.py"]
    assert not offenders


@pytest.mark.parametrize("argv, message", [
    (["infer", "--checkpoint", "x.pt", "--labels", "l", "--out", "o", "--batch-size", "0"], "--batch-size: must be at least 1"),
    (["synth", "--out", "o", "--num", "-3"], "--num: must be at least 1"),
    (["shards", "--layout", "pix2pixhd", "--root", "r", "--out", "o", "--max-bad-fraction", "2"], "must be in [0, 1]"),
    (["evaluate", "--checkpoint", "x", "--data", "d", "--out", "o.json", "--workers", "-1"], "--workers: must be at least 0"),
])
def test_numeric_options_are_range_checked(argv, message, capsys):
    from hrgan.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == USAGE_ERROR and message in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
@pytest.mark.parametrize("name, extra", [
    ("infer", ["--labels", "l", "--out", "o"]), ("export", ["--format", "onnx", "--out", "g.onnx"]),
    ("encode-features", ["--data", "d"]), ("selftest", []),
])
def test_cuda_without_cuda_is_a_one_line_usage_error(name, extra, tmp_path, capsys):
    from hrgan.cli import main

    argv = [name, "--device", "cuda", *extra] + ([] if name == "selftest" else ["--checkpoint", str(tmp_path / "m.pt")])
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == USAGE_ERROR
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith(f"hrgan {name}: ") and "CUDA is not available" in err


def test_a_missing_model_file_is_a_data_error(tmp_path, capsys):
    from hrgan.cli import main

    assert main(["export", "--checkpoint", str(tmp_path / "none.pt"), "--format", "torchscript",
                 "--out", str(tmp_path / "g.pt")]) == DATA_ERROR
    assert "none.pt" in capsys.readouterr().err
