"""The inference export and a checkpoint's description of it: the one owner of their format.

An export is a plain dict of strings, numbers, lists and tensors, so it loads with
``torch.load(weights_only=True)``, without Lightning and without unpickling code:

    format, version      ``FORMAT`` and ``VERSION``
    generator, encoder   network specs ``{class_path, init_args, state_dict}`` (encoder None without features)
    style_encoder        a VAE generator's style encoder (SPADE's), else None; absent before SPADE
    ema                  whether the generator weights are the EMA ones
    label_nc, input_nc, ignore_index, use_instance_edges, feat_num
                         how the generator's input is built (``hrgan.conditioning``; label_nc 0: an input
                         image of input_nc channels, absent before image inputs: 3)
    n_active_enhancers   the enhancers the exported stage runs (0 for single-scale generators)
    resolution           [width, height] the exported stage trained at, or None; informational only:
                         inference takes any size
    classes              ``{names, colors, label_offset, ignore_index, unlabeled_as}``: the class table's
                         mask-file convention (``hrgan.data.labels``), which inference applies to label files;
                         ``unlabeled_as`` (absent before SPADE: None) is the class unlabeled pixels are read as
    iteration            training iterations done (None when imported)
    styles               instance styles from ``hrgan encode-features``, or None
    imported_from        the official weights file it was imported from, or None

A Lightning checkpoint keeps the same dict without state dicts under ``"inference"``
(``checkpoint_entry``), plus ``state_dict_prefixes``: for each network, the prefixes of
its copies in the checkpoint's ``state_dict``, the exported copy first. ``read_export``
takes the weights from there, so a new module layout needs no edit of the reader.

Version 1 (``format: "hrgan-export/1"``, no ``version`` key) holds the same export; its
checkpoint entries had no format and no prefixes, the generator's weights being under
``generator_ema.`` (else ``generator.``) and the encoder's under ``encoder.``.

A new generator family needs no edit here. It provides a class in ``hrgan.models`` with
a keyword-only constructor of plain values that derives ``RecordsInitArgs`` (so its
``init_args`` rebuild it) and answers ``size_multiple(n_active_enhancers=None)``.
"""

from __future__ import annotations

import importlib
import io
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

from hrgan.io import write_bytes_atomic
from hrgan.models.family import Conditioning, GeneratorFamily, style_source
from hrgan.models.style_bank import StyleBank

if TYPE_CHECKING:
    from hrgan.data.classes import ClassInfo

FORMAT = "hrgan-export"
VERSION = 2
READABLE_VERSIONS = (1, 2)
VERSION_1_FORMAT = "hrgan-export/1"
ALLOWED_MODULES = ("hrgan.models.",)  # classes an export may name


def network_spec(
    module: nn.Module, state_dict: Mapping[str, torch.Tensor] | None = None, *, weights: bool = True
) -> dict:
    """``{class_path, init_args, state_dict}`` of one of our networks (it must record ``init_args``).

    Args:
        module: the network.
        state_dict: weights to store instead of the module's own (e.g. its EMA copy's).
        weights: False leaves the state dict out (a checkpoint holds it).
    """
    if not hasattr(module, "init_args"):
        raise TypeError(f"{type(module).__name__} does not record its constructor arguments (init_args)")
    cls = type(module)
    spec = {"class_path": f"{cls.__module__}.{cls.__qualname__}", "init_args": dict(module.init_args)}
    if weights:
        spec["state_dict"] = {k: v.detach().cpu() for k, v in (state_dict or module.state_dict()).items()}
    return spec


def build_network(spec: dict) -> nn.Module:
    """Instantiate and load a network from ``network_spec``'s output (strict), in eval mode."""
    module_name, _, name = spec["class_path"].rpartition(".")
    if not module_name.startswith(ALLOWED_MODULES):
        raise ValueError(f"refusing to build {spec['class_path']!r}: only hrgan.models classes are allowed")
    cls = getattr(importlib.import_module(module_name), name)
    network = cls(**spec["init_args"])
    network.load_state_dict(spec["state_dict"], strict=True)
    return network.eval()


def build_family(export: dict) -> GeneratorFamily:
    """The model of an export (``read_export``'s output): its networks, conditioning and styles, in eval mode."""
    networks = {name: build_network(spec) for name, spec in _networks(export).items()}
    generator = networks.pop("generator")
    style = style_source(generator, networks, StyleBank.from_export(export.get("styles")))
    return GeneratorFamily(generator=generator, conditioning=Conditioning.from_export(export), style=style).eval()


def family_export(family: GeneratorFamily, **kwargs) -> dict:
    """``make_export`` of a family's networks and conditioning; ``kwargs``: the other keys."""
    networks = family.networks()
    return make_export(generator=networks["generator"], encoder=networks["encoder"],
                       style_encoder=networks["style_encoder"], **family.conditioning.to_export(), **kwargs)


def make_export(
    *,
    generator: nn.Module,
    encoder: nn.Module | None,
    label_nc: int,
    style_encoder: nn.Module | None = None,
    ignore_index: int | None,
    use_instance_edges: bool,
    feat_num: int,
    n_active_enhancers: int,
    classes: ClassInfo,
    generator_state_dict: Mapping[str, torch.Tensor] | None = None,
    ema: bool = False,
    resolution: tuple[int, int] | None = None,
    input_nc: int = 3,
    iteration: int | None = None,
    styles: dict | None = None,
    imported_from: str | None = None,
    weights: bool = True,
) -> dict:
    """The inference export (keys in the module docstring), ready for ``save_export``.

    Args:
        generator: the generator network.
        encoder: the instance-feature encoder, or None.
        style_encoder: a VAE generator's style encoder, or None.
        generator_state_dict: weights to export instead of ``generator``'s own (its EMA copy's).
        weights: False leaves the state dicts out (for ``checkpoint_entry``).
        The others: the export's keys of the same names.
    """
    networks = {"generator": generator, "encoder": encoder, "style_encoder": style_encoder}
    weights_of = {"generator": generator_state_dict}
    return {
        **{name: None if network is None else network_spec(network, weights_of.get(name), weights=weights)
           for name, network in networks.items()},
        "ema": ema,
        "label_nc": label_nc,
        "input_nc": input_nc,
        "ignore_index": ignore_index,
        "use_instance_edges": use_instance_edges,
        "feat_num": feat_num,
        "n_active_enhancers": n_active_enhancers,
        "resolution": list(resolution) if resolution is not None else None,
        "classes": {"names": list(classes.names), "colors": [list(c) for c in classes.colors],
                    "label_offset": classes.label_offset, "ignore_index": classes.ignore_index,
                    "unlabeled_as": classes.unlabeled_as},
        "iteration": iteration,
        "styles": styles,
        "imported_from": imported_from,
    }


def checkpoint_entry(export: dict, *, state_dict_prefixes: Mapping[str, Sequence[str]]) -> dict:
    """What a Lightning checkpoint keeps under ``"inference"``.

    Args:
        export: from ``make_export(..., weights=False)``.
        state_dict_prefixes: for each network of the export (``generator``, ``encoder``, ``style_encoder``), the
            prefixes of its copies in the LightningModule's state dict, the exported copy first.
    """
    for name, spec in _networks(export).items():
        if "state_dict" in spec:
            raise ValueError(f"checkpoint_entry: the {name} spec holds weights; make the export with weights=False")
        if not state_dict_prefixes.get(name):
            raise ValueError(f"checkpoint_entry: no state-dict prefix for the {name} (got {dict(state_dict_prefixes)})")
    prefixes = {name: list(state_dict_prefixes[name]) for name in _networks(export)}
    return {**export, "format": FORMAT, "version": VERSION, "state_dict_prefixes": prefixes}


def save_export(path: str | os.PathLike, export: dict) -> Path:
    """Write an export atomically, stamped with the current format and version."""
    buffer = io.BytesIO()
    torch.save({**export, "format": FORMAT, "version": VERSION}, buffer)
    return write_bytes_atomic(path, buffer.getvalue())


def read_export(path: str | os.PathLike) -> dict:
    """The export in an export file or an hrgan Lightning checkpoint, with every network's weights.

    A checkpoint gives its exported copies (the EMA generator when trained with EMA) and is
    marked ``from_checkpoint``. Both load with ``weights_only=True``; the networks stay specs
    (see ``build_network``).

    Raises:
        FileNotFoundError: no such file.
        ValueError: not an hrgan export or checkpoint, or of a version this code does not read.
    """
    path = Path(path)
    kind, data, version = _open(path)
    if kind == "export":
        return {**data, "format": FORMAT, "version": VERSION}
    if version is None:
        raise ValueError(
            f"{path} is a Lightning checkpoint without hrgan's network description; use the run's export.pt"
        )
    entry = dict(data["inference"])
    state = data["state_dict"]
    prefixes = _version_1_prefixes(state) if version == 1 else entry.pop("state_dict_prefixes")
    for name, spec in _networks(entry).items():
        prefix = (prefixes.get(name) or [None])[0]
        weights = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)} if prefix else {}
        if not weights:
            raise ValueError(f"{path}: the checkpoint's state_dict has no {name} weights (prefixes {prefixes})")
        entry[name] = dict(spec, state_dict=weights)
    return {**entry, "format": FORMAT, "version": VERSION, "from_checkpoint": True}


def read_state_dict(path: str | os.PathLike, *, prefixes: Mapping[str, Sequence[str]]) -> dict[str, torch.Tensor]:
    """Weights of an export or checkpoint, named as in a LightningModule's state dict.

    Args:
        path: an export file or an hrgan Lightning checkpoint.
        prefixes: for an export, where each of its networks goes: e.g. ``{"generator":
            ["generator.", "generator_ema."]}`` puts the generator's weights under both
            prefixes. A checkpoint gives its whole state dict as it is.
    """
    kind, data, _ = _open(Path(path))
    if kind == "checkpoint":
        return data["state_dict"]
    return {
        prefix + key: value
        for name, spec in _networks(data).items()
        for prefix in prefixes.get(name, ())
        for key, value in spec["state_dict"].items()
    }


def _open(path: Path) -> tuple[str, dict, int | None]:
    """``("export" | "checkpoint", its dict, format version)`` after checking that this code reads
    the version; a checkpoint without hrgan's ``inference`` entry has version None."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such checkpoint or export")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several types for foreign, pickled-code or truncated files
        raise ValueError(f"{path} is not a readable hrgan export or checkpoint: {error}") from error
    if not isinstance(data, dict):
        raise ValueError(f"{path} is neither an hrgan export nor a Lightning checkpoint")
    if data.get("format") in (FORMAT, VERSION_1_FORMAT):
        version = 1 if data["format"] == VERSION_1_FORMAT else data.get("version")
        return "export", data, _checked_version(path, version, "export")
    if "state_dict" in data:
        entry = data.get("inference")
        # version 1 checkpoint entries carried no format and no version
        version = entry.get("version", 1) if isinstance(entry, dict) else None
        return "checkpoint", data, version if version is None else _checked_version(path, version, "checkpoint")
    raise ValueError(f"{path} is neither an hrgan export nor a Lightning checkpoint (format {data.get('format')!r})")


def _checked_version(path: Path, version, what: str) -> int:
    if version not in READABLE_VERSIONS:
        raise ValueError(
            f"{path} is an hrgan {what} of format version {version!r}; this hrgan reads versions "
            f"{', '.join(map(str, READABLE_VERSIONS))} (newer versions need a newer hrgan)"
        )
    return version


def _version_1_prefixes(state: Mapping[str, torch.Tensor]) -> dict[str, list[str]]:
    """Where version 1 checkpoints, which recorded no prefixes, kept the exported networks."""
    has_ema = any(k.startswith("generator_ema.") for k in state)
    return {"generator": ["generator_ema."] if has_ema else ["generator."], "encoder": ["encoder."]}


def _networks(export: dict) -> dict[str, dict]:
    """The export's network specs by key (``generator``, ``encoder`` when present)."""
    return {k: v for k, v in export.items() if isinstance(v, dict) and "class_path" in v}
