from hrgan.cli import main


def test_env_reports_versions_and_weights(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    assert main(["env"]) == 0
    out = capsys.readouterr().out
    assert "torch:" in out and "VGG19 weights (perceptual loss): not found" in out and str(tmp_path) in out
