"""The generator alone as TorchScript or ONNX, for serving without hrgan (behind ``hrgan export``).

The exported network takes the conditioning tensor [B, C, H, W] (one-hot labels,
or an image-input model's input image in [-1, 1], then the instance-edge channel,
then instance features: C = label_nc (or input_nc) + edges + feat_num) and returns the image [B, 3, H, W] in [-1, 1]. H and W must be
multiples of the size multiple stored with the file (TorchScript:
the extra file hrgan.json; ONNX: metadata_props); the ONNX graph has dynamic
batch, height and width. A VAE generator (SPADE's, z_dim > 0) takes a second
input, the style z [B, z_dim] (N(0, 1) samples, or hrgan's style encoder's);
its ONNX graph has the size the latent map makes (metadata fixed_size [W, H]),
since ONNX's shape inference loses its channels through a resize of dynamic size.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import torch
from torch import nn

from hrgan.inference.synthesizer import Synthesizer
from hrgan.io import write_bytes_atomic


class FixedGenerator(nn.Module):
    """The generator with its number of active enhancers fixed: conditioning (and a VAE's z) -> image."""

    def __init__(self, generator: nn.Module, n_active_enhancers: int) -> None:
        super().__init__()
        self.generator, self.n_active_enhancers = generator, n_active_enhancers

    def forward(self, condition: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        return self.generator.run(condition, n_active_enhancers=self.n_active_enhancers, z=z)


def describe(synth: Synthesizer) -> dict:
    """What a user of the exported file needs to build its input."""
    return {
        "input": ("the input image in [-1, 1]" if synth.label_nc == 0 else "one-hot labels")
                 + ", then the instance-edge channel (if use_instance_edges), then instance features",
        "label_nc": synth.label_nc, "input_nc": synth.input_nc if synth.label_nc == 0 else None, "use_instance_edges": synth.use_instance_edges, "feat_num": synth.feat_num,
        "ignore_index": synth.ignore_index, "size_multiple": synth.size_multiple,
        "in_channels": synth.generator.init_args["in_channels"], "classes": synth.export["classes"]["names"],
        "z_dim": synth.z_dim,
    }


def export_generator(synth: Synthesizer, fmt: str, out: Path) -> Path:
    """Trace the generator on a small example and write it atomically as ``torchscript`` or ``onnx``."""
    network = FixedGenerator(synth.generator, synth.n_active_enhancers).eval()
    meta = describe(synth)
    fixed = synth.generator.fixed_export_size(fmt)
    width, height = fixed or (2 * synth.size_multiple,) * 2
    if fixed:
        meta["fixed_size"] = list(fixed)
    example = tuple(t.to(synth.device) for t in synth.generator.example_inputs(height, width))
    names = ["condition", "z"][: len(example)]
    buffer = io.BytesIO()
    with torch.no_grad():
        if fmt == "torchscript":
            traced = torch.jit.trace(network, example)
            # saved with CPU weights whatever device traced it: torch.jit.load(..., map_location=) moves it
            torch.jit.save(traced.cpu(), buffer, _extra_files={"hrgan.json": json.dumps(meta)})
        elif fmt == "onnx":
            import onnx  # needs the onnx package (pip install onnx)

            axes = {0: "batch"} if "fixed_size" in meta else {0: "batch", 2: "height", 3: "width"}
            dynamic = {"condition": axes, "image": axes} | {name: {0: "batch"} for name in names[1:]}
            torch.onnx.export(network, example, buffer, input_names=names, output_names=["image"],
                              dynamic_axes=dynamic, opset_version=17, dynamo=False)
            model = onnx.load_from_string(buffer.getvalue())
            for key, value in meta.items():
                model.metadata_props.add(key=key, value=json.dumps(value))
            buffer = io.BytesIO(model.SerializeToString())
        else:
            raise ValueError(f"format must be torchscript or onnx, got {fmt!r}")
    return write_bytes_atomic(out, buffer.getvalue())
