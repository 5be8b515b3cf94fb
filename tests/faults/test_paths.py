"""Names from data never become paths outside the output folder (issue 14, point 1)."""

import pytest

from hrgan.commands.infer import main as infer
from hrgan.data.images import BadSampleError
from hrgan.data.names import key_problem, path_under
from hrgan.data.stream import ShardStream
from tests.faults.conftest import files_outside, write_tar


@pytest.mark.parametrize("key, problem", [
    ("../../x", "'..' component"), ("a/../../x", "'..' component"), ("/abs/x", "absolute path"),
    ("", "empty"), ("a\\b", "backslash"), ("a\0b", "NUL"),
])
def test_unsafe_keys_are_named(key, problem):
    assert problem in key_problem(key)
    with pytest.raises(BadSampleError, match="unsafe sample key"):
        path_under("out", key, ".png")


@pytest.mark.parametrize("key", ["frame_0001", "city/frame_0001", "a..b", ".hidden"])
def test_ordinary_keys_stay_under_the_folder(key, tmp_path):
    assert key_problem(key) is None
    assert tmp_path in path_under(tmp_path, key, ".png").parents


def test_infer_skips_members_named_outside_out_and_writes_the_rest(trained, good_samples, tmp_path, capsys):
    out = tmp_path / "a" / "b" / "out"
    victims = [tmp_path / "a" / "x.png", tmp_path / "abs" / "victim.png"]  # where ../../x and /abs/victim lead
    for victim in victims:
        victim.parent.mkdir(parents=True, exist_ok=True)
        victim.write_bytes(b"mine")
    label = next(iter(good_samples.values()))["label.png"]
    shard = write_tar(tmp_path / "evil.tar", [
        ("../../x.label.png", label), (f"{tmp_path}/abs/victim.label.png", label), ("good.label.png", label),
    ])
    before = files_outside(tmp_path, out)
    code = infer(["--checkpoint", str(trained / "export.pt"), "--labels", str(shard), "--out", str(out),
                  "--instance-edges", "false", "--workers", "0", "--overwrite"])
    printed = capsys.readouterr().out
    assert code == 1
    assert "written 1, skipped 0, failed 2" in printed
    assert f"{shard}:../../x: unsafe sample key '../../x' (the key has a '..' component); the sample is skipped" in printed
    assert f"unsafe sample key '{tmp_path}/abs/victim' (the key is an absolute path)" in printed
    assert sorted(p.name for p in out.iterdir()) == ["good.png"]
    assert files_outside(tmp_path, out) == before  # nothing written, replaced or added outside --out


def test_training_stream_counts_unsafe_keys_as_corrupt(good_samples, tmp_path):
    record = next(iter(good_samples.values()))
    members = [(f"{name}.{ext}", data) for name in ("../up", "ok1", "ok2") for ext, data in record.items()]
    stream = ShardStream(str(write_tar(tmp_path / "s.tar", members)), batch_size=1, train=False,
                         max_bad_fraction=0.5)
    keys = [key for batch in stream for key in batch["key"]]
    assert keys == ["ok1", "ok2"] and (stream.counts.good, stream.counts.bad) == (2, 1)
