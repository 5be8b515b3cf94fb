"""Reading an offline wandb run back (wandb 0.31 ships no reader for its .wandb files).

The file is a LevelDB-style log: a 7-byte header (":W&B", magic, version), then
32 KiB blocks of records, each with a 7-byte header (crc32, length, type) and a
piece of a protobuf ``Record``; records may span blocks (FIRST / MIDDLE / LAST).
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

from wandb.proto import wandb_internal_pb2

BLOCK = 32768
HEADER = struct.Struct("<4sHB")
RECORD = struct.Struct("<IHB")
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def read_records(path: str | Path) -> list[wandb_internal_pb2.Record]:
    data = Path(path).read_bytes()
    ident, _, _ = HEADER.unpack_from(data, 0)
    if ident != b":W&B":
        raise ValueError(f"{path} is not a wandb run file")
    records, pending, pos = [], b"", HEADER.size
    while pos + RECORD.size <= len(data):
        left_in_block = BLOCK - pos % BLOCK
        if left_in_block < RECORD.size:  # block trailer padding
            pos += left_in_block
            continue
        _, length, kind = RECORD.unpack_from(data, pos)
        pos += RECORD.size
        chunk = data[pos : pos + length]
        pos += length
        if kind == FULL:
            records.append(chunk)
        elif kind == FIRST:
            pending = chunk
        elif kind == MIDDLE:
            pending += chunk
        elif kind == LAST:
            records.append(pending + chunk)
            pending = b""
        elif kind == 0 and length == 0:  # zero padding up to the block end
            pos += BLOCK - pos % BLOCK if pos % BLOCK else 0
    parsed = []
    for raw in records:
        record = wandb_internal_pb2.Record()
        record.ParseFromString(raw)
        parsed.append(record)
    return parsed


def history(run_dir: str | Path) -> list[dict]:
    """Every history row of an offline run folder (``.../wandb/offline-run-*``) as {key: value}.

    Values logged as nested items (an image's ``filenames``, ``_type``, ...) come back as dicts.
    """
    run_dir = Path(run_dir)
    (path,) = run_dir.glob("run-*.wandb")
    rows = []
    for record in read_records(path):
        if record.WhichOneof("record_type") != "history":
            continue
        row: dict = {}
        for item in record.history.item:
            value = json.loads(item.value_json)
            if item.key:
                row[item.key] = value
                continue
            *parents, leaf = item.nested_key
            target = row
            for name in parents:
                target = target.setdefault(name, {})
            target[leaf] = value
        rows.append(row)
    return rows
