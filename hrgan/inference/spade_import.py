"""NVlabs/SPADE checkpoints (latest_net_G.pth, latest_net_E.pth) as an hrgan inference export (behind ``hrgan import-spade``).

Our SPADE networks use SPADE's own state-dict keys, spectral-norm state included (torch's
``weight_orig``, ``weight_u``, ``weight_v``), so the weights load as they are (strict). The sizes
(ngf, input channels, the VAE's z_dim and latent map, a fifth up block) are read off the weights
and checked against the options; ``normal`` and ``more`` upsampling have the same keys and need
``num_upsampling_layers``. SPADE's don't-care label (``--contain_dontcare_label``: ADE20K, COCO-Stuff)
is its last label channel, and label files' unlabeled pixels are read as it (the class table's
``unlabeled_as``). Files are read with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import torch

from hrgan.artifacts import make_export
from hrgan.data.classes import ClassInfo, load_classes
from hrgan.inference.official_import import OptionMismatch
from hrgan.models import SPADEGenerator, SPADEStyleEncoder
from hrgan.models.spade import UPSAMPLING_LAYERS

DONTCARE_NAME = "don't care"


def _state_dict(path: Path, what: str, required_key: str) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise ValueError(f"{path}: no such {what} file")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # unreadable, pickled code, truncated
        raise ValueError(f"{path}: not a readable SPADE {what} state dict ({error})") from error
    if not isinstance(state, dict) or required_key not in state:
        found = ", ".join(list(state)[:4]) if isinstance(state, dict) else type(state).__name__
        raise ValueError(f"{path}: not a SPADE {what} state dict (no {required_key!r}; found {found}...)")
    return state


def _load_strict(network: torch.nn.Module, state: dict, path: Path, what: str) -> None:
    ours = network.state_dict()
    missing = [k for k in ours if k not in state]
    unexpected = [k for k in state if k not in ours]
    wrong = [f"{k} {list(state[k].shape)} (expected {list(v.shape)})" for k, v in ours.items()
             if k in state and state[k].shape != v.shape]
    if missing or unexpected or wrong:
        parts = [f"{len(keys)} {name}: {', '.join(keys[:3])}{' ...' if len(keys) > 3 else ''}"
                 for name, keys in (("missing", missing), ("unexpected", unexpected), ("of another shape", wrong)) if keys]
        raise ValueError(f"{path}: the {what}'s keys are not SPADE's for these settings ({'; '.join(parts)})")
    network.load_state_dict(state, strict=True)


def latent_size(area: int, aspect_ratio: float) -> tuple[int, int]:
    """SPADE's (sw, sh) for a latent map of ``area`` cells: sh = round(sw / aspect_ratio), as its crop does."""
    for sw in range(1, area + 1):
        if area % sw == 0 and area // sw == round(sw / aspect_ratio):
            return sw, area // sw
    raise OptionMismatch(f"the VAE's latent map has {area} cells, which no width w with height round(w / "
                         f"{aspect_ratio}) gives: pass SPADE's --aspect_ratio as --aspect-ratio")


def check_norm_G(state: dict, path: Path) -> None:
    """SPADE's default norm_G (spectralspadesyncbatch3x3) is the one our blocks implement; name any other."""
    if "head_0.conv_0.weight_orig" not in state:
        raise ValueError(f"{path}: the generator's convolutions have no spectral norm (SPADE's --norm_G without "
                         "'spectral'); hrgan's SPADE blocks are SPADE's default, spectralspadesyncbatch3x3")
    if "head_0.norm_0.param_free_norm.running_mean" not in state:
        raise ValueError(f"{path}: the generator's SPADE layers keep no batch-norm statistics (a --norm_G of "
                         "spadeinstance); hrgan's SPADE blocks are SPADE's default, spectralspadesyncbatch3x3")


def build_generator(state: dict, path: Path, *, num_upsampling_layers: str | None, aspect_ratio: float) -> SPADEGenerator:
    """Our SPADEGenerator with the weights of a SPADE generator state dict (sizes read off them)."""
    check_norm_G(state, path)
    if "up_4.conv_0.weight_orig" in state:
        if num_upsampling_layers not in (None, "most"):
            raise OptionMismatch(f"{path}: --num-upsampling-layers {num_upsampling_layers}, but the weights have "
                                 "a fifth up block (up_4): most")
        num_upsampling_layers = "most"
    elif num_upsampling_layers == "most":
        raise OptionMismatch(f"{path}: --num-upsampling-layers most, but the weights have no fifth up block (up_4)")
    ngf = state["head_0.conv_0.weight_orig"].shape[0] // 16
    in_channels = state["head_0.norm_0.mlp_shared.0.weight"].shape[1]
    fc = state["fc.weight"]
    settings = dict(in_channels=in_channels, ngf=ngf, num_upsampling_layers=num_upsampling_layers or "normal")
    if fc.ndim == 2:  # the VAE's linear layer: z_dim -> 16 ngf x sh x sw
        settings |= dict(z_dim=fc.shape[1], latent_size=latent_size(fc.shape[0] // (16 * ngf), aspect_ratio))
    generator = SPADEGenerator(**settings)
    _load_strict(generator, state, path, "generator")
    return generator.eval()


def build_encoder(state: dict, path: Path, generator: SPADEGenerator) -> SPADEStyleEncoder:
    """Our SPADEStyleEncoder with a SPADE ConvEncoder's weights, checked against the generator's z_dim."""
    if not generator.z_dim:
        raise OptionMismatch(f"{path}: an encoder, but the generator has no VAE (its fc is a convolution): "
                             "leave --encoder out")
    if "layer1.0.weight_orig" not in state:
        raise ValueError(f"{path}: the encoder's convolutions have no spectral norm (SPADE's --norm_E without "
                         "'spectral'); hrgan's is SPADE's default, spectralinstance")
    if "layer6.0.weight_orig" not in state:
        raise ValueError(f"{path}: SPADE's encoder has six layers (layer1..layer6) at crops of 256 and more; "
                         "this one has fewer, and SPADE's own forward fails on it")
    z_dim = state["fc_mu.weight"].shape[0]
    if z_dim != generator.z_dim:
        raise OptionMismatch(f"{path}: the encoder's z has {z_dim} dimensions, the generator's {generator.z_dim}")
    encoder = SPADEStyleEncoder(ngf=state["layer1.0.weight_orig"].shape[0], z_dim=z_dim)
    _load_strict(encoder, state, path, "encoder")
    return encoder.eval()


def class_table(classes: str | None, label_nc: int, dontcare_label: bool) -> ClassInfo:
    """``classes`` (a table of label_nc classes) with SPADE's don't-care label appended as the last class,
    which the table's unlabeled file value is read as."""
    table = load_classes(classes, label_nc)
    if not dontcare_label:
        return table
    return replace(table, names=[*table.names, DONTCARE_NAME], colors=[*table.colors, [0, 0, 0]], unlabeled_as=label_nc)


def build_spade_export(
    generator_path: Path,
    *,
    label_nc: int,
    dontcare_label: bool = False,
    use_instance_edges: bool = True,
    encoder_path: Path | None = None,
    num_upsampling_layers: str | None = None,
    aspect_ratio: float = 1.0,
    classes: str | None = None,
) -> dict:
    """The export dict for NVlabs/SPADE weights.

    Args:
        generator_path: SPADE's latest_net_G.pth.
        label_nc: SPADE's ``--label_nc`` (Cityscapes 35, ADE20K 150, COCO-Stuff 182).
        dontcare_label: SPADE's ``--contain_dontcare_label`` (one more label channel, the last).
        use_instance_edges: False for SPADE's ``--no_instance``.
        encoder_path: SPADE's latest_net_E.pth (VAE models; for ``hrgan infer --style from-image``).
        num_upsampling_layers: SPADE's option; ``more`` must be given (its keys are ``normal``'s).
        aspect_ratio: SPADE's ``--aspect_ratio`` (VAE models: the latent map's shape).
        classes: a table of ``label_nc`` classes (``cityscapes``, ``ade20k``, ``coco-stuff``, a path), or numbered.

    Raises:
        OptionMismatch: an option disagrees with the weights.
        ValueError: a file is not a SPADE state dict of these settings.
    """
    if num_upsampling_layers not in (None, *UPSAMPLING_LAYERS):
        raise OptionMismatch(f"num_upsampling_layers must be one of {sorted(UPSAMPLING_LAYERS)}, got {num_upsampling_layers!r}")
    state = _state_dict(generator_path, "generator", "head_0.norm_0.mlp_shared.0.weight")
    generator = build_generator(state, generator_path, num_upsampling_layers=num_upsampling_layers, aspect_ratio=aspect_ratio)
    channels = generator.init_args["in_channels"]
    model_nc = label_nc + (1 if dontcare_label else 0)
    expected = model_nc + (1 if use_instance_edges else 0)
    if channels != expected:
        raise OptionMismatch(
            f"{generator_path}: the generator takes {channels} label channels, but --label-nc {label_nc}"
            + (" + 1 don't-care label" if dontcare_label else "") + (" + 1 instance edge" if use_instance_edges else "")
            + f" = {expected} (SPADE's semantic_nc = label_nc + contain_dontcare_label + (not no_instance))")
    encoder = None
    if encoder_path is not None:
        encoder = build_encoder(_state_dict(encoder_path, "encoder", "fc_mu.weight"), encoder_path, generator)
    n = 2 ** UPSAMPLING_LAYERS[generator.num_upsampling_layers]
    return make_export(
        generator=generator,
        # SPADE's crop, which a VAE's latent map records (hrgan infer runs at that scale); unknown without the VAE
        resolution=tuple(side * n for side in generator.latent_size) if generator.z_dim else None,
        encoder=None,
        style_encoder=encoder,
        label_nc=model_nc,
        ignore_index=None,
        use_instance_edges=use_instance_edges,
        feat_num=0,
        n_active_enhancers=0,
        classes=class_table(classes, label_nc, dontcare_label),
        imported_from=str(generator_path),
    )
