from hrgan.cli import main


def test_env_reports_versions_and_weights(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    assert main(["env"]) == 0
    out = capsys.readouterr().out
    assert "torch:" in out and "VGG19 weights (perceptual loss): not found" in out and str(tmp_path) in out
    assert f"Inception weights (FID): not found; put pt_inception-2015-12-05-6726825d.pth at {tmp_path}" in out
    cache = tmp_path / "hub" / "checkpoints" / "pt_inception-2015-12-05-6726825d.pth"
    cache.parent.mkdir(parents=True)
    cache.write_bytes(b"x")
    assert main(["env"]) == 0
    assert f"Inception weights (FID): {cache}" in capsys.readouterr().out
