"""Write the GPU rows of BENCHMARKS.md from a gpu_check.json, so that they are never copied by hand.

    python benchmarks/fill_gpu_rows.py runs/gpu_check/gpu_check.json                # rewrites BENCHMARKS.md
    python benchmarks/fill_gpu_rows.py runs/gpu_check/gpu_check.json --print        # the section only

Replaces what lies between ``<!-- gpu-check:begin -->`` and ``<!-- gpu-check:end -->`` in the
benchmarks file with tables made from the check's records: the machine (device, torch, CUDA,
date, commit, command), the GPU tests, the training steps against their targets (img/s, step
time, MFU, peak memory), memory measured beside the simulation, inference, the data pipeline and
instance pooling. A step that failed, timed out or did not run gets a row saying so. A report
from a CPU dry run (``--tiny``) is refused unless ``--allow-cpu`` (tests use it on a copy).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

BEGIN, END = "<!-- gpu-check:begin -->", "<!-- gpu-check:end -->"
REPO = Path(__file__).resolve().parents[1]


def _fmt(value, digits: int = 2) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _not_ok(record: dict) -> str:
    return f"**{record['status']}**" + (f": {record['error']}" if record.get("error") else "")


def machine_lines(meta: dict) -> list[str]:
    return [
        f"Filled by `benchmarks/fill_gpu_rows.py` from `{meta.get('command', 'benchmarks/gpu_check.py')}`: "
        f"{meta['device']}" + (f" ({meta['gpu_memory_gib']} GiB, {meta.get('gpu_count', 1)} GPU)" if meta.get("gpu_memory_gib") else "")
        + f", torch {meta['torch']}, CUDA {meta.get('cuda') or '—'}, {meta.get('cpu_count')} CPU cores, "
        f"{meta['date']}, commit {meta.get('commit') or '—'}; the whole check took {_fmt(meta.get('wall_s'), 0)} s "
        f"of its {_fmt(meta.get('budget_s'), 0)} s budget.",
        "",
    ]


def tests_lines(record: dict) -> list[str]:
    if record["status"] != "ok":
        return [f"GPU tests (`{record['command']}`): {_not_ok(record)}", ""]
    counts = record.get("result") or {}
    text = ", ".join(f"{n} {k}" for k, n in counts.items()) or "no summary"
    return [f"GPU tests (`{record['command']}`): {text} in {record['wall_s']} s.", ""]


def step_lines(records: list[dict]) -> list[str]:
    lines = ["| step | img/s | target | s/step median (min-max) | MFU | peak GiB | command |", "|---|---|---|---|---|---|---|"]
    for r in records:
        if r["status"] != "ok":
            lines.append(f"| {r['title']} | {_not_ok(r)} | {r.get('target_img_per_s', '—')} | | | | `{r['command']}` |")
            continue
        res, ours = r["result"], r["result"]["ours"]
        s = ours["s_per_step"]
        mfu = f"{res['mfu'] * 100:.1f}%" if res.get("mfu") is not None else "—"
        peak = ours.get("peak_mem_gib", _fmt(ours.get("peak_rss_mib", 0) / 1024 if "peak_rss_mib" in ours else None))
        target = r.get("target_img_per_s")
        verdict = "" if target is None else (" (met)" if ours["img_per_s"] >= target else " (below)")
        lines.append(f"| {r['title']} | {_fmt(ours['img_per_s'])}{verdict} | {_fmt(target)} | {s['median']} ({s['min']}-{s['max']}) "
                     f"| {mfu} | {peak} | `{r['command']}` |")
    return lines + [""]


def memory_lines(record: dict) -> list[str]:
    if record["status"] != "ok":
        return [f"Memory (`{record['command']}`): {_not_ok(record)}", ""]
    lines = ["| precision | activation checkpointing | batch | simulated GiB | measured GiB |", "|---|---|---|---|---|"]
    for row in record["result"]["rows"]:
        if "batch" in row:
            lines.append(f"| {row['precision']} | {'on' if row['activation_checkpointing'] else 'off'} | {row['batch']} "
                         f"| {_fmt(row['simulated_peak_gib'])} | {_fmt(row.get('measured_peak_gib'))} |")
    return [f"Memory (`{record['command']}`):", "", *lines, ""]


def inference_lines(record: dict) -> list[str]:
    results = record.get("result") or []
    results = results if isinstance(results, list) else [results]
    if record["status"] != "ok" and not results:
        return [f"Inference (`{record['command']}`): {_not_ok(record)}", ""]
    lines = ["| size | precision | network | img/s | s per map median (min-max) | peak MiB |", "|---|---|---|---|---|---|"]
    for r in results:
        if "error" in r:
            lines.append(f"| {r['size']} | {r['precision']} | **failed**: {' '.join(r['error'])} | | | |")
            continue
        s = r["s_per_call"]
        lines.append(f"| {r['size']} | {r['precision']} | {r['network']} | {_fmt(r['img_per_s'])} "
                     f"| {s['median']} ({s['min']}-{s['max']}) | {_fmt(r['peak_mem_mib'], 0)} |")
    cut = [] if record["status"] == "ok" else [f"The rest: {_not_ok(record)} (the rows above were measured before it).", ""]
    return [f"Inference (`{record['command']}`):", "", *lines, "", *cut]


def data_lines(pipeline: dict | None, pool: dict | None) -> list[str]:
    lines = ["| what | figure | command |", "|---|---|---|"]
    if pipeline is not None:
        if pipeline["status"] == "ok":
            res = pipeline["result"]
            lines.append(f"| shard decoding, one worker ({res['source']}) | {res['decode_samples_per_s_per_worker']} samples/s "
                         f"| `{pipeline['command']}` |")
            for size, rate in res["augment_samples_per_s"].items():
                lines.append(f"| augmentation to {size} on {res['augment_device']} | {rate} samples/s | same |")
        else:
            lines.append(f"| data pipeline | {_not_ok(pipeline)} | `{pipeline['command']}` |")
    if pool is not None:
        if pool["status"] == "ok":
            res = pool["result"]
            lines.append(f"| instance pooling {res['size']}, {res['instances']} instances, forward + backward | ours "
                         f"{res['ours_s']['median'] * 1000:.2f} ms, official loop {res['official_loop_s']['median'] * 1000:.1f} ms "
                         f"({res['speedup']:.0f}x) | `{pool['command']}` |")
        else:
            lines.append(f"| instance pooling | {_not_ok(pool)} | `{pool['command']}` |")
    return lines + [""]


def render(report: dict) -> str:
    """The Markdown between the markers for one gpu_check report."""
    by_name = {r["name"]: r for r in report["steps"]}
    lines = machine_lines(report["meta"])
    if "gpu_tests" in by_name:
        lines += tests_lines(by_name["gpu_tests"])
    steps = [r for r in report["steps"] if r["name"].startswith("step_")]
    if steps:
        lines += step_lines(steps)
    if "memory_2048" in by_name:
        lines += memory_lines(by_name["memory_2048"])
    if "inference" in by_name:
        lines += inference_lines(by_name["inference"])
    if "data_pipeline" in by_name or "instance_pool" in by_name:
        lines += data_lines(by_name.get("data_pipeline"), by_name.get("instance_pool"))
    return "\n".join(lines).rstrip() + "\n"


def fill(text: str, section: str, path: str) -> str:
    """``text`` with the part between the markers replaced by ``section``."""
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise SystemExit(f"{path}: no {BEGIN} ... {END} block to fill")
    return text[: start + len(BEGIN)] + "\n" + section + text[end:]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("report", help="gpu_check.json from benchmarks/gpu_check.py")
    parser.add_argument("--benchmarks", default=str(REPO / "BENCHMARKS.md"), help="the file to fill (default BENCHMARKS.md)")
    parser.add_argument("--print", action="store_true", help="print the section instead of writing the file")
    parser.add_argument("--allow-cpu", action="store_true", help="accept a CPU dry run's report (tests)")
    args = parser.parse_args()
    try:
        report = json.loads(Path(args.report).read_text())
        report["meta"], report["steps"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        print(f"{args.report}: not a gpu_check report ({error})", file=sys.stderr)
        return 2
    if (report["meta"].get("tiny") or not report["meta"].get("requested_device", "").startswith("cuda")) and not args.allow_cpu:
        print(f"{args.report}: a CPU dry run, not GPU figures; nothing written (--allow-cpu to fill anyway)", file=sys.stderr)
        return 2
    section = render(report)
    if args.print:
        print(section, end="")
        return 0
    path = Path(args.benchmarks)
    filled = fill(path.read_text(), section, args.benchmarks)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(filled)
    os.replace(tmp, path)
    print(f"{path}: GPU rows from {args.report} ({len(report['steps'])} steps)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
