"""Bad inputs made on purpose: tars with unsafe member names, truncated tars, PNGs that claim huge sizes,
bad labels and sizes, corrupt manifests. Fixtures for trained models and scenes are the other folders'."""

import io
import struct
import tarfile
import zlib

import numpy as np
import pytest
import webdataset as wds

from hrgan.data.images import encode_png
from hrgan.data.shards import update_manifest
from tests.data.conftest import synth_root, synth_shards  # noqa: F401 (fixtures)
from tests.inference.conftest import odd_maps, trained  # noqa: F401 (fixtures)


def claimed_png(width: int, height: int) -> bytes:
    """A PNG of a few dozen bytes whose header claims ``width`` x ``height`` 1-bit pixels (no pixel data)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


def write_tar(path, members: list[tuple[str, bytes]]):
    """A tar whose members have exactly these names (tarfile keeps '../' and a leading '/')."""
    with tarfile.open(path, "w") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture(scope="session")
def good_samples(synth_shards):
    """The 12 synthetic 128x64 scenes as raw samples: key -> {"label.png", "inst.png", "img.png", "json": bytes}."""
    samples = {}
    for url in sorted(synth_shards.glob("train-*.tar")):
        for sample in wds.tariterators.tarfile_samples([{"url": str(url)}]):
            samples[sample["__key__"]] = {k: v for k, v in sample.items() if not k.startswith("__")}
    return samples


def write_set(out, samples: dict[str, dict], split="train", sizes: dict | None = None):
    """``samples`` (key -> extension -> bytes) as one shard ``{split}-000000.tar`` with a manifest."""
    out.mkdir(parents=True, exist_ok=True)
    with wds.TarWriter(str(out / f"{split}-000000.tar"), encoder=False) as sink:
        for key, record in samples.items():
            sink.write({"__key__": key, **record})
    update_manifest(out, split, {"shards": [{"url": f"{split}-000000.tar", "samples": len(samples)}],
                                 "num_samples": len(samples), "image_sizes": sizes or {"128x64": len(samples)}})
    return out / f"{split}-000000.tar"


def out_of_range(record: dict, value: int = 200) -> dict:
    label = np.zeros((64, 128), dtype=np.uint8)
    label[:, :8] = value
    return record | {"label.png": encode_png(label)}


def files_outside(root, out) -> dict:
    """Every file under ``root`` but outside ``out`` with its bytes: to show nothing there changed."""
    return {p: p.read_bytes() for p in root.rglob("*") if p.is_file() and out not in p.parents}
