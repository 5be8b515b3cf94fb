"""hrgan studio as a command: its address, a port that is taken or out of range, a warning off loopback."""

import socket
import subprocess
import sys

import pytest

pytest.importorskip("aiohttp", reason="the studio needs aiohttp (pip install hrgan[studio])")

from hrgan.artifacts import save_export  # noqa: E402
from hrgan.commands import studio  # noqa: E402


@pytest.fixture(scope="module")
def export_path(synth, tmp_path_factory):
    path = tmp_path_factory.mktemp("studio_cmd") / "export.pt"
    save_export(path, synth.export)
    return path


def test_a_port_out_of_range_is_a_usage_error(export_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        studio.main(["--checkpoint", str(export_path), "--port", "70000"])
    assert exit_.value.code == 2 and "a port is 0 to 65535, got 70000" in capsys.readouterr().err


def test_a_port_in_use_is_one_line_naming_it(export_path, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert studio.main(["--checkpoint", str(export_path), "--port", str(port), "--device", "cpu"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"hrgan studio: cannot listen on 127.0.0.1:{port}: ") and len(err.splitlines()) == 1


def test_port_0_prints_the_port_it_got_and_other_hosts_are_warned_about(export_path):
    process = subprocess.Popen([sys.executable, "-m", "hrgan.cli", "studio", "--checkpoint", str(export_path), "--port", "0",
                                "--host", "0.0.0.0", "--device", "cpu"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        assert line.startswith("hrgan studio: http://0.0.0.0:") and ":0/" not in line
        port = int(line.split(":")[3].split("/")[0])
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
    finally:
        process.terminate()
        _, err = process.communicate(timeout=10)
    assert "warning: listening on 0.0.0.0: anyone who can reach it" in err
