"""Does the demo beat the class-mean baseline on every run, not one lucky one? `make demo`'s training
over several seeds and torch thread counts, each in its own process and run folder.

    python benchmarks/demo_seeds.py                          # seeds 0,1,2 x threads 1,2, one run at a time
    python benchmarks/demo_seeds.py --threads 1 --jobs 2     # two 1-thread runs side by side on 2 cores
    python benchmarks/demo_seeds.py --table                  # only print the table of the runs done so far
    python benchmarks/demo_seeds.py --out runs/l1_100 -- --model.lambda_l1 100   # a variant: fit overrides after --

A thread count changes the order of float reductions and so the whole GAN
trajectory: no seeded figure is machine-independent, and the demo's margin must
hold over such runs. Runs go to ``--out/s{seed}_t{threads}/`` (the demo's data,
samples, checkpoints and ``fidelity.json``); a run whose ``fidelity.json``
exists is not run again. Prints one JSON line per run and a Markdown table with
the mean, min and max of every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FIGURES = ("model_predictable", "baseline_predictable", "model_full", "baseline_full")


def run_one(out: Path, seed: int, threads: int, config: str, overrides: tuple[str, ...] = ()) -> dict:
    """Train the demo config once with ``seed`` and ``threads``; its fidelity figures and wall time."""
    folder = out / f"s{seed}_t{threads}"
    result_file = folder / "fidelity.json"
    if not result_file.exists():
        command = [sys.executable, "-m", "hrgan.cli", "fit", "--config", config, "--seed_everything", str(seed),
                   "--trainer.default_root_dir", str(folder), "--data.synthetic.root", str(folder / "data"),
                   "--trainer.logger", "false", "--trainer.enable_progress_bar", "false", *overrides]
        env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads), "WANDB_MODE": "offline"}
        folder.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        with open(folder / "fit.log", "w") as log:
            done = subprocess.run(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
        if done.returncode != 0:
            raise RuntimeError(f"seed {seed}, {threads} threads: fit exited {done.returncode}; see {folder / 'fit.log'}")
        (folder / "wall_s.txt").write_text(f"{time.perf_counter() - start:.0f}\n")
    scores = json.loads(result_file.read_text())
    wall = folder / "wall_s.txt"
    return {"seed": seed, "threads": threads, **{k: scores[k] for k in FIGURES},
            "wall_s": float(wall.read_text()) if wall.exists() else None}


def table(rows: list[dict]) -> str:
    """Markdown: one row per run, then mean, min and max, with the margins over the baseline."""
    for row in rows:
        row["margin_predictable"] = row["model_predictable"] - row["baseline_predictable"]
        row["margin_full"] = row["model_full"] - row["baseline_full"]
    columns = (*FIGURES, "margin_predictable", "margin_full")
    lines = ["| run | " + " | ".join(c.replace("_", " ") + " (dB)" for c in columns) + " |",
             "|---" * (len(columns) + 1) + "|"]
    for row in rows:
        lines.append(f"| seed {row['seed']}, {row['threads']} thread(s) | " + " | ".join(f"{row[c]:.2f}" for c in columns) + " |")
    for name, reduce in (("mean", statistics.mean), ("min", min), ("max", max)):
        lines.append(f"| **{name}** | " + " | ".join(f"{reduce(r[c] for r in rows):.2f}" for c in columns) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated seed_everything values")
    parser.add_argument("--threads", default="1,2", help="comma-separated torch thread counts")
    parser.add_argument("--jobs", type=int, default=1, help="runs side by side (their threads should fit the cores)")
    parser.add_argument("--config", default="configs/demo.yaml")
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "demo_seeds")
    parser.add_argument("--table", action="store_true", help="print the table of the finished runs in --out only")
    parser.add_argument("overrides", nargs="*", help="after --: options passed on to every hrgan fit")
    args = parser.parse_args()
    if args.table:
        rows = []
        for result in sorted(args.out.glob("s*_t*/fidelity.json")):
            seed, threads = result.parent.name[1:].split("_t")
            rows.append(run_one(args.out, int(seed), int(threads), args.config))
    else:
        plan = [(int(s), int(t)) for t in args.threads.split(",") for s in args.seeds.split(",")]
        with ThreadPoolExecutor(max(1, args.jobs)) as pool:
            rows = list(pool.map(lambda st: run_one(args.out, *st, args.config, tuple(args.overrides)), plan))
        for row in rows:
            print(json.dumps(row))
    print(table(rows))
    print(f"passes (margin >= 1 dB predictable, > 0 full, every run): "
          f"{all(r['margin_predictable'] >= 1 and r['margin_full'] > 0 for r in rows)}")


if __name__ == "__main__":
    main()
