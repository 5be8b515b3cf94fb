"""Peak memory of one training step per batch size, and the largest batch that fits a GPU.

    python benchmarks/memory.py                                   # 2048x1024, 1 enhancer, fp32 and bf16, AC off and on
    python benchmarks/memory.py --size 1024x512 --enhancers 0 --ngf 64
    python benchmarks/memory.py --device cuda --batches 1 2 4     # measured on the GPU, for calibration
    python benchmarks/memory.py --family spade --size 1024x512 --ngf 64 --num-d 2   # SPADE's networks

Without --device the step runs on fake tensors (torch's FakeTensorMode): every
operator runs for its shapes only, so a 2048x1024 step of a 190M-parameter model
is simulated in seconds on any machine. The tracker adds the bytes of every
tensor storage an operator creates and subtracts them when the storage is freed,
so the peak covers parameters, gradients, Adam states, saved activations and
temporaries. It leaves out what a GPU adds on top: the CUDA context, cuDNN
workspaces and allocator fragmentation; --reserve-gib (default 3) stands for
them when deciding what fits. The step is benchmarks/train_step.py's eager step
(our order: G forward, D on the real, G step with D frozen, D step). With
--device cuda the same step runs for real and torch.cuda.max_memory_allocated
is reported next to the simulation. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import warnings
import weakref
from pathlib import Path

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from train_step import LABEL_NC, eager_parts, random_batch, run_eager_step  # noqa: E402


GIB = 2**30


class LiveBytes(TorchDispatchMode):
    """Bytes of live tensor storages created inside the mode, their peak, and who held them at the peak."""

    def __init__(self) -> None:
        super().__init__()
        self.live = self.peak = 0
        self.owners: list[str] = []  # module classes being run, outermost first
        self._storages: dict[int, tuple[weakref.ref, int, str]] = {}
        self.at_peak: collections.Counter = collections.Counter()
        self._snapshot_at = 0

    def _free(self, key: int, nbytes: int) -> None:
        self._storages.pop(key, None)
        self.live -= nbytes

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for tensor in tree_flatten(out)[0]:
            if not isinstance(tensor, torch.Tensor):
                continue
            storage = tensor.untyped_storage()  # one Python object per storage, so views count once
            key = id(storage)
            if key in self._storages:
                continue
            nbytes = storage.nbytes()
            owner = self._owner(func)
            self._storages[key] = (weakref.ref(storage, lambda _, k=key, n=nbytes: self._free(k, n)), nbytes, owner)
            self.live += nbytes
            if self.live > self.peak:
                self.peak = self.live
                if self.live > 1.01 * self._snapshot_at:  # a breakdown at most every 1% of growth
                    self._snapshot()
        return out

    def _owner(self, func) -> str:
        """What a new storage is for: the module running, else backward or the optimizer's kind of tensor."""
        backward = torch._C._current_graph_task_id() != -1
        if self.owners:
            return ("recomputed in backward: " if backward else "") + "/".join(self.owners[:2])
        if backward:
            return "backward: gradients and temporaries"
        name = func.__name__.split(".")[0]
        return {"zeros_like": "Adam states", "empty": "parameters"}.get(name, f"other ({name})")

    def _snapshot(self) -> None:
        self._snapshot_at = self.live
        self.at_peak = collections.Counter()
        for _, nbytes, owner in self._storages.values():
            self.at_peak[owner] += nbytes


def simulated_peak(args) -> tuple[float, dict[str, float]]:
    """Peak GiB of two steps (the second has Adam's states) on fake tensors, and the largest holders."""
    from torch._subclasses.fake_tensor import FakeTensorMode
    from torch.nn.modules.module import register_module_forward_hook, register_module_forward_pre_hook

    tracker = LiveBytes()

    def enter(module, _):
        tracker.owners.append(type(module).__name__)

    def leave(module, _, __):
        tracker.owners.pop()

    # always_call: a checkpointed block's recomputation stops early with an exception, skipping plain hooks
    hooks = [register_module_forward_pre_hook(enter), register_module_forward_hook(leave, always_call=True)]
    try:
        with FakeTensorMode(), tracker:
            parts = eager_parts(args, None)
            batch = random_batch(args, "cpu")
            for _ in range(2):
                run_eager_step(parts, batch, args, validate=False)
    finally:
        for hook in hooks:
            hook.remove()
    holders = {k: round(v / GIB, 2) for k, v in tracker.at_peak.most_common(8)}
    return tracker.peak / GIB, holders


def measured_peak(args, device: str) -> float:
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    parts = eager_parts(args, device)
    batch = random_batch(args, device)
    for _ in range(2):
        run_eager_step(parts, batch, args)
    torch.cuda.synchronize()
    peak = torch.cuda.max_memory_allocated() / GIB
    del parts, batch
    return peak


def largest_batch(args, capacity_gib: float, peak_at) -> int:
    """The largest batch whose peak plus the reserve fits ``capacity_gib`` (0 when batch 1 does not)."""
    fits = lambda b: peak_at(b) + args.reserve_gib <= capacity_gib  # noqa: E731
    if not fits(1):
        return 0
    low, high = 1, 2
    while fits(high) and high < 4096:
        low, high = high, high * 2
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if fits(middle) else (low, middle)
    return low


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=lambda t: tuple(int(v) for v in t.split("x")), default=(2048, 1024), help="WIDTHxHEIGHT")
    parser.add_argument("--ngf", type=int, default=32)
    parser.add_argument("--enhancers", type=int, default=1)
    parser.add_argument("--num-d", type=int, default=3)
    parser.add_argument("--no-vgg", dest="vgg", action="store_false")
    parser.add_argument("--precisions", nargs="+", choices=("32", "bf16"), default=["32", "bf16"])
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 2, 4, 8])
    parser.add_argument("--capacities", nargs="*", type=float, default=[24, 80, 141],
                        help="GPU memory sizes in GB for the largest-batch search (none: skip the search)")
    parser.add_argument("--reserve-gib", type=float, default=3.0, help="left for the CUDA context, workspaces, fragmentation")
    parser.add_argument("--device", help="cuda: measure for real as well")
    parser.add_argument("--family", choices=("pix2pixhd", "spade"), default="pix2pixhd",
                        help="train_step.py's networks: pix2pixHD's (--enhancers) or SPADE's (at --ngf, --num-d scales)")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    rows, cache = [], {}
    for precision in args.precisions:
        for ac in (False, True):

            def peak_at(batch, precision=precision, ac=ac):
                key = (precision, ac, batch)
                if key not in cache:
                    run = argparse.Namespace(**{**vars(args), "precision": precision, "ac": ac, "batch": batch})
                    cache[key] = simulated_peak(run)
                return cache[key][0]

            for batch in args.batches:
                peak_at(batch)
                row = {"precision": precision, "activation_checkpointing": ac, "batch": batch,
                       "simulated_peak_gib": round(cache[(precision, ac, batch)][0], 2)}
                if batch == 1:
                    row["largest_holders_gib"] = cache[(precision, ac, batch)][1]
                if args.device:
                    run = argparse.Namespace(**{**vars(args), "precision": precision, "ac": ac, "batch": batch})
                    try:
                        row["measured_peak_gib"] = round(measured_peak(run, args.device), 2)
                    except torch.cuda.OutOfMemoryError:
                        row["measured_peak_gib"] = "out of memory"
                rows.append(row)
            if args.capacities:
                fits = {f"{c:g}GB": largest_batch(args, c * 1e9 / GIB, peak_at) for c in args.capacities}
                rows.append({"precision": precision, "activation_checkpointing": ac, "largest_batch": fits})
    config = {k: v for k, v in vars(args).items() if k in ("family", "size", "ngf", "enhancers", "num_d", "vgg", "reserve_gib")}
    print(json.dumps({"config": config, "label_nc": LABEL_NC, "rows": rows, "torch": torch.__version__}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
