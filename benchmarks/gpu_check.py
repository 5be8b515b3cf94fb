"""The prepared GPU check: every GPU figure of BENCHMARKS.md in one command, inside 8 minutes on one H200.

    python benchmarks/gpu_check.py                          # on the GPU machine: runs/gpu_check/gpu_check.{json,log}
    python benchmarks/gpu_check.py --list                   # the steps, their commands and time limits
    python benchmarks/gpu_check.py --device cpu --tiny      # the dry run (tiny sizes, CPU); make test runs all but the compile step
    python benchmarks/fill_gpu_rows.py runs/gpu_check/gpu_check.json   # then: the GPU rows of BENCHMARKS.md

Steps, in order, each a separate process with its own time limit (seconds on one H200, estimated
from the CPU dry run and the model sizes; 565 s of limits, cut to the 480 s --budget-s: the last step
gets what the others left):

  gpu_tests          110  pytest -m gpu (tests/training/test_gpu.py): bf16 training step, compiled step vs
                          eager, fused Adam vs the loop, GPU augmentation and instance pooling vs the CPU,
                          DDP over NCCL (2+ GPUs)
  step_1024           45  train_step.py 1024x512, global G ngf 64, 3 D scales, bf16, batch 8 (target 50 img/s)
  step_2048           40  2048x1024, one local enhancer (ngf 32), bf16, batch 2 (target 12 img/s)
  step_2048_ac        40  the same with activation checkpointing
  step_pix2pix        25  pix2pix's step (U-Net 256 + batch-norm PatchGAN, GAN + L1) at 256x256, bf16, batch 64
  memory_2048         50  memory.py at 2048x1024, bf16, batch 1 and 2: measured beside the simulation
  inference           50  inference.py at 1024x512 and 2048x1024, fp32 and bf16
  data_pipeline       40  data_pipeline.py: shard decoding per worker, GPU augmentation to 2048x1024 and 1024x512
  instance_pool       15  instance_pool.py at 2048x1024, 60 instances
  step_1024_compile  150  step_1024 with model.compile (inductor); last, it takes what the budget has left

A step that runs past its limit is killed and recorded as "timeout", a step that fails as "failed"
with the end of its error; the next step runs either way. Once --budget-s is spent the remaining
steps are recorded as "not run". After each step the JSON file is rewritten (meta + every step so
far) and the step's output is appended to the log, so a check cut short keeps what it measured.
The dry run (``--device cpu --tiny``) runs the same steps at tiny sizes, 240 s each, 1800 s in all.
SPADE rows join this list when that generator exists.

The GPU machine needs only this repository and a Python with torch (CUDA), pytorch-lightning,
torchmetrics and pytest (images with PyTorch usually have them); the rest (webdataset, kornia,
jsonargparse and what they need) travels as wheels: ``make gpu-wheels`` here downloads them into
``.whl/``, and there ``pip install --no-index --no-deps --target /tmp/site .whl/*.whl`` and
``PYTHONPATH=/tmp/site:.`` make them importable without a network. The driver checks the imports
first and names what is missing.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
TINY_LIMIT_S = 240.0  # each step of the CPU dry run (the compile step takes about a minute on 2 cores)
REQUIRED_MODULES = ("torch", "pytorch_lightning", "torchmetrics", "webdataset", "kornia", "jsonargparse", "pytest")


@dataclass(frozen=True)
class Step:
    """One step of the check: a command for the GPU run and one for the tiny CPU dry run."""

    name: str
    title: str
    limit_s: float
    gpu: tuple[str, ...]
    tiny: tuple[str, ...]
    meta: dict = field(default_factory=dict)


def _bench(script: str, *args: str) -> tuple[str, ...]:
    return (f"benchmarks/{script}", *args)


_TINY_STEP = ("--size", "128x64", "--ngf", "8", "--batch", "1", "--precision", "bf16", "--warmup", "1", "--repeats", "1",
              "--skip-eager")
_TESTS = ("-m", "pytest", "tests/training/test_gpu.py", "-m", "gpu", "-v", "-p", "no:cacheprovider", "-rfEs",
          "--durations=0")
STEPS = (
    Step("gpu_tests", "pytest -m gpu", 110, _TESTS, _TESTS),
    Step("step_1024", "training step 1024x512, global G ngf 64, 3 D scales, bf16, batch 8", 45,
         _bench("train_step.py", "--device", "cuda", "--size", "1024x512", "--num-d", "3", "--precision", "bf16",
                "--batch", "8", "--warmup", "3", "--repeats", "10", "--skip-eager"),
         _bench("train_step.py", "--device", "cpu", "--num-d", "2", *_TINY_STEP),
         {"target_img_per_s": 50}),
    Step("step_2048", "training step 2048x1024, one enhancer, ngf 32, bf16, batch 2", 40,
         _bench("train_step.py", "--device", "cuda", "--size", "2048x1024", "--enhancers", "1", "--ngf", "32",
                "--precision", "bf16", "--batch", "2", "--warmup", "3", "--repeats", "8", "--skip-eager"),
         _bench("train_step.py", "--device", "cpu", "--enhancers", "1", "--num-d", "2", *_TINY_STEP),
         {"target_img_per_s": 12}),
    Step("step_2048_ac", "the same with activation checkpointing", 40,
         _bench("train_step.py", "--device", "cuda", "--size", "2048x1024", "--enhancers", "1", "--ngf", "32",
                "--precision", "bf16", "--batch", "2", "--warmup", "3", "--repeats", "8", "--skip-eager",
                "--activation-checkpointing"),
         _bench("train_step.py", "--device", "cpu", "--enhancers", "1", "--num-d", "2", "--activation-checkpointing",
                *_TINY_STEP),
         {"target_img_per_s": 12}),
    Step("step_pix2pix", "pix2pix training step 256x256 (U-Net 256 + PatchGAN, GAN + L1), bf16, batch 64", 25,
         _bench("train_step.py", "--device", "cuda", "--family", "pix2pix", "--size", "256x256", "--precision", "bf16",
                "--batch", "64", "--warmup", "3", "--repeats", "10", "--skip-eager"),
         _bench("train_step.py", "--device", "cpu", "--family", "pix2pix", "--size", "256x256", "--ngf", "8", "--batch", "1",
                "--precision", "bf16", "--warmup", "1", "--repeats", "1", "--skip-eager")),
    Step("step_spade", "SPADE training step 512x256 (ngf 64, 2 spectral D scales, hinge + feat + VGG), bf16, batch 16", 35,
         _bench("train_step.py", "--device", "cuda", "--family", "spade", "--size", "512x256", "--num-d", "2",
                "--precision", "bf16", "--batch", "16", "--warmup", "3", "--repeats", "8", "--skip-eager"),
         _bench("train_step.py", "--device", "cpu", "--family", "spade", "--num-d", "2", *_TINY_STEP)),
    Step("memory_2048", "training memory at 2048x1024 (one enhancer, ngf 32, bf16), measured and simulated", 50,
         _bench("memory.py", "--device", "cuda", "--size", "2048x1024", "--batches", "1", "2", "--precisions", "bf16",
                "--capacities"),
         _bench("memory.py", "--size", "128x64", "--ngf", "8", "--num-d", "2", "--batches", "1", "2",
                "--precisions", "bf16", "--capacities")),
    Step("inference", "inference (hrgan infer's model call)", 50,
         _bench("inference.py", "--device", "cuda", "--sizes", "1024x512", "2048x1024", "--repeats", "10"),
         _bench("inference.py", "--device", "cpu", "--sizes", "128x64", "--repeats", "1")),
    Step("data_pipeline", "shard decoding per worker and GPU augmentation", 40,
         _bench("data_pipeline.py", "--device", "cuda", "--synthetic", "--num", "16"),
         _bench("data_pipeline.py", "--device", "cpu", "--synthetic", "--num", "4", "--batch", "2",
                "--scene-size", "256x128", "--augment-sizes", "256x128", "128x64")),
    Step("instance_pool", "instance-wise average pooling, ours vs the official loop", 15,
         _bench("instance_pool.py", "--device", "cuda", "--size", "2048x1024", "--instances", "60"),
         _bench("instance_pool.py", "--device", "cpu", "--size", "128x64", "--instances", "10", "--repeats", "1")),
    # last: compiling takes the longest and is the least predictable, so it gets what the budget has left
    Step("step_1024_compile", "training step 1024x512 as above, with model.compile", 150,
         _bench("train_step.py", "--device", "cuda", "--size", "1024x512", "--num-d", "3", "--precision", "bf16",
                "--batch", "8", "--warmup", "3", "--repeats", "10", "--skip-eager", "--compile"),
         _bench("train_step.py", "--device", "cpu", "--num-d", "1", "--no-vgg", "--compile", *_TINY_STEP),
         {"target_img_per_s": 50}),
)
STEP_NAMES = tuple(s.name for s in STEPS)


def json_lines(text: str) -> list:
    """Every line of ``text`` that parses as a JSON object, in order."""
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                found.append(json.loads(line))
            except json.JSONDecodeError:
                pass
    return found


def pytest_counts(text: str) -> dict:
    """'3 passed, 1 skipped in 2.1s' -> {'passed': 3, 'skipped': 1}; {} when no summary line."""
    lines = [line for line in text.splitlines() if re.search(r"\b(passed|failed|skipped|deselected|error)", line)]
    if not lines:
        return {}
    counts = {}
    for number, word in re.findall(r"(\d+) (passed|failed|skipped|deselected|errors?|xfailed|xpassed)", lines[-1]):
        counts[word.rstrip("s") if word.startswith("error") else word] = int(number)
    return counts


def run_step(step: Step, argv: tuple[str, ...], limit_s: float, log) -> dict:
    """Run one step's command under ``limit_s``; the record that goes into the JSON file."""
    command = [sys.executable, *argv]
    record = {"name": step.name, "title": step.title, "command": "python " + " ".join(argv), "limit_s": limit_s, **step.meta}
    log.write(f"\n===== {step.name}: {record['command']} (limit {limit_s:.0f} s) =====\n")
    log.flush()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
           "PYTHONUNBUFFERED": "1"}
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    try:
        stdout, stderr = process.communicate(timeout=limit_s)
        timed_out = False
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # the step and whatever it started
        stdout, stderr = process.communicate()
        timed_out = True
    record["wall_s"] = round(time.perf_counter() - start, 1)
    log.write(stdout)
    log.write(stderr)
    log.flush()
    if step.name == "gpu_tests":
        counts = pytest_counts(stdout)
        record["result"] = counts
        ok = process.returncode == 0 or (process.returncode == 5 and not counts.get("failed"))  # 5: none collected
    else:
        results = json_lines(stdout)
        record["result"] = results[0] if len(results) == 1 else results
        ok = process.returncode == 0 and bool(results)
    if timed_out:
        record["status"] = "timeout"
    elif ok:
        record["status"] = "ok"
    else:
        record["status"] = "failed"
        record["error"] = (stderr.strip().splitlines() or stdout.strip().splitlines() or ["(no output)"])[-1][-300:]
    return record


def machine_meta(device: str) -> dict:
    """What the rows need: device name, torch and CUDA versions, the date, the commit."""
    import torch

    meta = {
        "date": datetime.date.today().isoformat(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "commit": os.environ.get("HRGAN_COMMIT") or git_commit(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "requested_device": device,
    }
    if device.startswith("cuda") and torch.cuda.is_available():
        meta["device"] = torch.cuda.get_device_name()
        meta["gpu_count"] = torch.cuda.device_count()
        meta["gpu_memory_gib"] = round(torch.cuda.get_device_properties(0).total_memory / 2**30, 1)
    else:
        meta["device"] = f"CPU ({platform.machine()}, {os.cpu_count()} cores)"
    return meta


def git_commit() -> str | None:
    """The checkout's commit; None without git or a .git (a copied tree: set HRGAN_COMMIT)."""
    try:
        done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
    except OSError:
        return None
    return done.stdout.strip() or None


def missing_modules() -> list[str]:
    import importlib.util

    return [m for m in REQUIRED_MODULES if importlib.util.find_spec(m) is None]


def write_json_atomic(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    os.replace(tmp, path)


def parse_limit(text: str) -> tuple[str, float]:
    name, sep, seconds = text.partition("=")
    if not sep or name not in STEP_NAMES:
        raise argparse.ArgumentTypeError(f"--limit {text!r}: expected STEP=SECONDS, STEP one of {', '.join(STEP_NAMES)}")
    return name, float(seconds)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda", help="cuda (default) or cpu (with --tiny: the dry run)")
    parser.add_argument("--tiny", action="store_true", help="tiny sizes on the CPU, to check the driver itself")
    parser.add_argument("--out", default="runs/gpu_check", help="folder for gpu_check.json and gpu_check.log")
    parser.add_argument("--only", nargs="+", choices=STEP_NAMES, metavar="STEP", help="run these steps only")
    parser.add_argument("--budget-s", type=float, help="the whole check's time (default 480; the dry run: 1800)")
    parser.add_argument("--limit", type=parse_limit, action="append", default=[], metavar="STEP=SECONDS",
                        help="another time limit for one step")
    parser.add_argument("--list", action="store_true", help="print the steps and exit")
    args = parser.parse_args()
    steps = [s for s in STEPS if not args.only or s.name in args.only]
    if args.list:
        for s in steps:
            print(f"{s.name:18} {s.limit_s:4.0f} s  python {' '.join(s.tiny if args.tiny else s.gpu)}")
        return 0
    if args.tiny != (args.device == "cpu"):
        parser.error("--tiny goes with --device cpu (the dry run); the GPU check runs the full sizes on cuda")
    missing = missing_modules()
    if missing:
        print(f"gpu_check: missing Python packages: {', '.join(missing)}; run `make gpu-wheels` where pip works and "
              "install .whl/ here (see this script's --help)", file=sys.stderr)
        return 2
    import torch

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("gpu_check: torch sees no CUDA device (torch " + torch.__version__ + "); for the dry run use --device cpu --tiny",
              file=sys.stderr)
        return 2
    limits = dict(args.limit)
    if args.budget_s is None:
        args.budget_s = 1800.0 if args.tiny else 480.0
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report = {"meta": {**machine_meta(args.device), "command": "python " + " ".join([sys.argv[0], *sys.argv[1:]]),
                       "tiny": args.tiny, "budget_s": args.budget_s}, "steps": []}
    started = time.perf_counter()
    with open(out / "gpu_check.log", "a") as log:
        log.write(f"\n##### gpu_check {datetime.datetime.now().isoformat(timespec='seconds')} {report['meta']}\n")
        for step in steps:
            left = args.budget_s - (time.perf_counter() - started)
            limit = min(limits.get(step.name, TINY_LIMIT_S if args.tiny else step.limit_s), left)
            if left <= 1:
                argv = step.tiny if args.tiny else step.gpu
                record = {"name": step.name, "title": step.title, "command": "python " + " ".join(argv),
                          "status": "not run", "limit_s": round(max(limit, 0), 1),
                          "error": f"the check's {args.budget_s:.0f} s budget was spent", **step.meta}
            else:
                record = run_step(step, step.tiny if args.tiny else step.gpu, limit, log)
            report["steps"].append(record)
            report["meta"]["wall_s"] = round(time.perf_counter() - started, 1)
            write_json_atomic(out / "gpu_check.json", report)
            print(f"{step.name:18} {record['status']:8} {record.get('wall_s', 0):6.1f} s / {record['limit_s']:.0f} s"
                  + (f"  {record['error']}" if "error" in record else ""), flush=True)
    failed = [r["name"] for r in report["steps"] if r["status"] != "ok"]
    print(f"gpu_check: {len(steps) - len(failed)}/{len(steps)} steps ok in {report['meta']['wall_s']:.0f} s; "
          f"{out / 'gpu_check.json'}" + (f"; not ok: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
