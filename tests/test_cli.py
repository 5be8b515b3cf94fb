import subprocess
import sys

from hrgan.cli import COMMANDS, main


def test_help_lists_every_command(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in COMMANDS)


def test_unknown_command_lists_choices(capsys):
    assert main(["trian"]) == 2
    err = capsys.readouterr().err
    assert "unknown command 'trian'" in err and all(name in err for name in COMMANDS)


def test_console_script_runs():
    result = subprocess.run([sys.executable, "-m", "hrgan.cli", "--version"], capture_output=True, text=True, check=True)
    assert result.stdout.startswith("hrgan ")
