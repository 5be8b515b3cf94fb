import io
from collections import defaultdict

import numpy as np
import pytest
import webdataset as wds
from PIL import Image
from torch.utils.data import DataLoader

from hrgan.data.stream import ShardStream, expand_urls, read_shards
from tests.data.conftest import make_shards

ALL_KEYS = {f"synth_s3_{i:06d}" for i in range(12)}


def urls(out):
    return sorted(str(p) for p in out.glob("train-*.tar"))


def run_rank(shard_urls, *, rank, world, workers=2, train=True, batch_size=2):
    stream = ShardStream(shard_urls, batch_size=batch_size, train=train, rank=rank, world_size=world, num_workers=workers)
    loader = DataLoader(stream, batch_size=None, num_workers=workers)
    batches = list(loader)
    per_worker = defaultdict(list)
    for i, batch in enumerate(batches):  # the DataLoader takes batches from its workers in turn
        per_worker[i % workers].extend(batch["key"])
    return stream, batches, per_worker


def test_brace_patterns_and_lists_expand():
    assert expand_urls("a-{000000..000002}.tar") == ["a-000000.tar", "a-000001.tar", "a-000002.tar"]
    assert expand_urls(["x.tar", "y-{0..1}.tar"]) == ["x.tar", "y-0.tar", "y-1.tar"]
    assert expand_urls("pipe:cat s-{0..1}.tar") == ["pipe:cat s-0.tar", "pipe:cat s-1.tar"]


def test_manifest_counts_are_attached(synth_shards):
    shards = read_shards(str(synth_shards / "train-{000000..000005}.tar"))
    assert [s.samples for s in shards] == [2] * 6
    assert read_shards("pipe:cat x.tar")[0].samples is None


@pytest.mark.parametrize("per_shard", [2, 5])  # 6 shards over 4 slots; 3 shards, fewer than the slots
def test_two_ranks_two_workers_disjoint_complete_equal(synth_root, tmp_path, per_shard):
    shard_urls = urls(make_shards(synth_root, tmp_path, per_shard))
    slots, counts = [], []
    for rank in range(2):
        stream, batches, per_worker = run_rank(shard_urls, rank=rank, world=2)
        assert len(batches) == len(stream)
        counts.append(len(batches))
        slots += [set(keys) for keys in per_worker.values()]
    assert counts[0] == counts[1]
    assert set.union(*slots) == ALL_KEYS
    assert sum(len(s) for s in slots) == len(ALL_KEYS)  # disjoint


def test_evaluation_sees_every_sample_exactly_once(synth_root, tmp_path):
    shard_urls = urls(make_shards(synth_root, tmp_path, 5))
    seen = []
    for rank in range(2):
        stream, batches, _ = run_rank(shard_urls, rank=rank, world=2, train=False, batch_size=4)
        assert len(batches) == len(stream)
        seen += [k for b in batches for k in b["key"]]
    assert sorted(seen) == sorted(ALL_KEYS)
    again = [k for rank in range(2) for b in run_rank(shard_urls, rank=rank, world=2, train=False, batch_size=4)[1] for k in b["key"]]
    assert again == seen  # deterministic order


def test_rank_and_world_come_from_the_environment(synth_shards, monkeypatch):
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    stream = ShardStream(urls(synth_shards), batch_size=1, train=False)
    keys = [b["key"][0] for b in stream]
    assert len(keys) == 6  # shards 1, 3, 5 of 6


def test_each_epoch_reshuffles(synth_shards):
    stream = ShardStream(urls(synth_shards), batch_size=12, train=True, shuffle_buffer=4)
    first, second = (next(iter(stream))["key"] for _ in range(2))
    assert first != second
    fixed = ShardStream(urls(synth_shards), batch_size=12, train=True, shuffle_buffer=4, epoch=0)
    assert next(iter(fixed))["key"] == first and next(iter(fixed))["key"] == first


def test_pipe_urls_stream(synth_shards):
    stream = ShardStream([f"pipe:cat {u}" for u in urls(synth_shards)], batch_size=4, train=False)
    assert sorted(k for b in stream for k in b["key"]) == sorted(ALL_KEYS)
    with pytest.raises(ValueError, match="samples_per_epoch"):
        ShardStream(f"pipe:cat {urls(synth_shards)[0]}", batch_size=1, train=True)
    trained = ShardStream(f"pipe:cat {urls(synth_shards)[0]}", batch_size=1, train=True, samples_per_epoch=5)
    assert len(list(trained)) == 5


def png_bytes(array):
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def write_tar(path, samples):
    with wds.TarWriter(str(path), encoder=False) as writer:
        for sample in samples:
            writer.write(sample)


def sample(key, *, broken=False):
    label = png_bytes(np.zeros((8, 8), np.uint8))
    return {"__key__": key, "label.png": label[:30] if broken else label, "img.png": png_bytes(np.zeros((8, 8, 3), np.uint8))}


def test_corrupt_samples_are_skipped_and_counted(tmp_path, caplog):
    write_tar(tmp_path / "s.tar", [sample("a"), sample("b", broken=True), sample("c")])
    batches = list(ShardStream(str(tmp_path / "s.tar"), batch_size=1, train=False, max_bad_fraction=0.5))
    assert [b["key"][0] for b in batches] == ["a", "c"]
    assert int(batches[-1]["skipped"]) == 1
    assert "s.tar:b label.png: unreadable or truncated" in caplog.text


def test_too_many_corrupt_samples_stop_the_run(tmp_path):
    write_tar(tmp_path / "s.tar", [sample(f"k{i}", broken=i % 2 == 0) for i in range(40)])
    with pytest.raises(RuntimeError, match="corrupt, more than max_bad_fraction=0.1"):
        list(ShardStream(str(tmp_path / "s.tar"), batch_size=1, train=False, max_bad_fraction=0.1))
