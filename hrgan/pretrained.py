"""Finding pretrained weight files (VGG19 for the perceptual loss, Inception for FID) without surprises.

Weights come from an explicit path or from torch's hub checkpoint cache
(``$TORCH_HOME/hub/checkpoints``). ``auto`` may also try torchvision's URL
once; when nothing works the error says exactly how to supply the file.
"""

from __future__ import annotations

import http.client
import warnings
from pathlib import Path

import torch

from hrgan.models.inception import FIDInceptionV3
from hrgan.models.vgg import VGG19Features

VGG19_FILENAME = "vgg19-dcbb9e9d.pth"
VGG19_URL = f"https://download.pytorch.org/models/{VGG19_FILENAME}"
INCEPTION_FILENAME = "pt_inception-2015-12-05-6726825d.pth"
INCEPTION_URL = f"https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/{INCEPTION_FILENAME}"

_random_warning_shown = False


class RandomWeightsWarning(UserWarning):
    """A network that should be pretrained is running with random weights."""


def hub_checkpoint_path(filename: str) -> Path:
    """Where torch.hub (and torchvision) cache a downloaded checkpoint."""
    return Path(torch.hub.get_dir()) / "checkpoints" / filename


def find_cached_vgg19() -> Path | None:
    """The VGG19 file in the torch hub cache, or None when it is not there."""
    path = hub_checkpoint_path(VGG19_FILENAME)
    return path if path.is_file() else None


def _missing_vgg19_message(tried_download: str | None) -> str:
    lines = [
        "VGG19 weights for the perceptual loss were not found.",
        f"  looked in the torch hub cache: {hub_checkpoint_path(VGG19_FILENAME)}",
    ]
    if tried_download:
        lines.append(f"  download of {VGG19_URL} failed: {tried_download}")
    lines += [
        "Provide them in one of these ways:",
        f"  1. on a machine with network access, download {VGG19_URL}",
        f"     and copy it to {hub_checkpoint_path(VGG19_FILENAME)} (set TORCH_HOME to move the cache);",
        "  2. point the loss at the file: vgg_weights: /path/to/vgg19-dcbb9e9d.pth in the config;",
        "  3. train without it: use_vgg_loss: false.",
    ]
    return "\n".join(lines)


def resolve_vgg19_weights(weights: str, *, allow_download: bool = True) -> Path | None:
    """Turn a ``weights`` setting into a file path.

    Args:
        weights: a path to a torchvision-format VGG19 file; ``"auto"`` (hub cache,
            then torchvision's URL when ``allow_download``); or ``"random"`` (returns None,
            warns once per process; for tests only).
        allow_download: whether ``auto`` may try the network.

    Raises:
        FileNotFoundError: with instructions, when no file can be found.
    """
    global _random_warning_shown
    if weights == "random":
        if not _random_warning_shown:
            warnings.warn(
                "VGG19 perceptual loss is using RANDOM weights (weights: random); "
                "it is only meant for tests, not for training a model you care about",
                RandomWeightsWarning,
                stacklevel=2,
            )
            _random_warning_shown = True
        return None
    if weights != "auto":
        path = Path(weights).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"VGG19 weights file {path} does not exist.\n" + _missing_vgg19_message(None))
        return path
    cached = find_cached_vgg19()
    if cached is not None:
        return cached
    if not allow_download:
        raise FileNotFoundError(_missing_vgg19_message(None))
    target = hub_checkpoint_path(VGG19_FILENAME)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        # Writes to a temporary file and renames it, checking the hash prefix in the name.
        torch.hub.download_url_to_file(VGG19_URL, str(target), hash_prefix="dcbb9e9d", progress=True)
    except (OSError, http.client.HTTPException, RuntimeError) as error:
        raise FileNotFoundError(_missing_vgg19_message(str(error) or type(error).__name__)) from error
    return target


def load_matching_state(model: torch.nn.Module, path: Path, what: str, *, extra_keys_ok: bool) -> None:
    """Load ``path`` into ``model`` after checking every key and shape, naming the file in each error.

    Batch-norm counters (``num_batches_tracked``) may be absent, as in files saved by old PyTorch.
    """
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several types for truncated or foreign files
        raise ValueError(f"could not read {what} weights from {path}: {error}") from error
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    wanted = {k: v for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked") or k in state}
    missing = [k for k in wanted if k not in state]
    if missing:
        raise ValueError(
            f"{path} is not a {what} state dict: missing {missing[:4]}"
            f"{' ...' if len(missing) > 4 else ''} (found keys such as {list(state)[:4]})"
        )
    extra = [k for k in state if k not in wanted]
    if extra and not extra_keys_ok:
        raise ValueError(f"{path} has keys a {what} network does not: {extra[:4]}")
    wrong = [f"{k}: {tuple(state[k].shape)} != {tuple(v.shape)}" for k, v in wanted.items() if state[k].shape != v.shape]
    if wrong:
        raise ValueError(f"{path} has {what} tensors of the wrong shape: {wrong[:4]}")
    model.load_state_dict({k: state[k] for k in wanted}, strict=False)


def load_vgg19_features(weights: str = "auto", *, allow_download: bool = True) -> VGG19Features:
    """A frozen ``VGG19Features`` in eval mode with the requested weights (see ``resolve_vgg19_weights``).

    The file must hold torchvision's keys (``features.N.weight``); keys past relu5_1
    and the classifier are ignored.
    """
    model = VGG19Features()
    path = resolve_vgg19_weights(weights, allow_download=allow_download)
    if path is not None:
        load_matching_state(model, path, "torchvision VGG19", extra_keys_ok=True)
    model.eval()
    model.requires_grad_(False)
    return model


def _missing_inception_message(path: Path | None) -> str:
    lines = ["FID needs the Inception weights FID is defined with, and they were not found."]
    if path is not None:
        lines.append(f"  {path} does not exist")
    lines += [
        f"  looked in the torch hub cache: {hub_checkpoint_path(INCEPTION_FILENAME)}",
        "Provide them (hrgan never downloads at run time):",
        f"  1. on a machine with network access, download {INCEPTION_URL}",
        "     (torch-fidelity's weights-inception-2015-12-05-6726825d.pth is the same file);",
        f"  2. copy it to {hub_checkpoint_path(INCEPTION_FILENAME)} or pass --inception-weights /path/to/the/file;",
        "  3. or leave FID out: --metrics psnr,ssim,miou.",
    ]
    return "\n".join(lines)


def load_fid_inception(weights: str | None = None) -> FIDInceptionV3:
    """FID's Inception-v3 with the 2015-12-05 weights from ``weights`` (a path), else the torch hub cache.

    ``weights="random"`` builds it untrained (tests only; warns): FID values are then meaningless.
    """
    model = FIDInceptionV3()
    if weights == "random":
        warnings.warn("FID Inception is using RANDOM weights; FID values are meaningless", RandomWeightsWarning, stacklevel=2)
    else:
        path = Path(weights).expanduser() if weights else hub_checkpoint_path(INCEPTION_FILENAME)
        if not path.is_file():
            raise FileNotFoundError(_missing_inception_message(path if weights else None))
        load_matching_state(model, path, "FID Inception (pt_inception-2015-12-05)", extra_keys_ok=False)
    model.requires_grad_(False)
    return model
