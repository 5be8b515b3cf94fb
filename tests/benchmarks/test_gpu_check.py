"""benchmarks/gpu_check.py's CPU dry run (so the GPU check cannot rot between GPU runs) and fill_gpu_rows.py."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks"))
from fill_gpu_rows import BEGIN, END  # noqa: E402
from gpu_check import STEP_NAMES  # noqa: E402


def run(*args, cwd=REPO):
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True)


# Compiling with inductor on 2 CPU cores takes about 100 s, half the dry run; compiled training on the CPU is
# tested in tests/training/test_speed.py, so the dry run leaves the compile step out.
DRY_STEPS = [name for name in STEP_NAMES if name != "step_1024_compile"]


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("gpu_check")
    done = run("benchmarks/gpu_check.py", "--device", "cpu", "--tiny", "--out", str(out), "--only", *DRY_STEPS)
    return out, done


def test_the_dry_run_runs_every_step_and_records_its_figures(dry_run):
    out, done = dry_run
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    report = json.loads((out / "gpu_check.json").read_text())
    assert [s["name"] for s in report["steps"]] == DRY_STEPS and len(DRY_STEPS) == len(STEP_NAMES) - 1
    assert all(s["status"] == "ok" for s in report["steps"]), [(s["name"], s.get("error")) for s in report["steps"]]
    assert report["meta"]["tiny"] and report["meta"]["torch"] and report["meta"]["date"]
    steps = {s["name"]: s for s in report["steps"]}
    assert steps["gpu_tests"]["result"]["skipped"] >= 5  # no CUDA here: every gpu test is collected and skipped
    assert steps["step_1024"]["result"]["ours"]["img_per_s"] > 0
    assert steps["step_2048_ac"]["result"]["config"]["activation_checkpointing"] is True
    assert {r["batch"] for r in steps["memory_2048"]["result"]["rows"] if "batch" in r} == {1, 2}
    assert {(r["size"], r["precision"]) for r in steps["inference"]["result"]} == {("128x64", "32"), ("128x64", "bf16")}
    assert set(steps["data_pipeline"]["result"]["augment_samples_per_s"]) == {"256x128", "128x64"}
    assert steps["instance_pool"]["result"]["speedup"] > 0
    assert all(s["wall_s"] <= s["limit_s"] for s in report["steps"])
    log = (out / "gpu_check.log").read_text()
    assert all(f"===== {name}:" in log for name in DRY_STEPS)


def test_fill_gpu_rows_writes_the_section_and_refuses_a_dry_run_without_allow_cpu(dry_run, tmp_path):
    out, _ = dry_run
    benchmarks = tmp_path / "BENCHMARKS.md"
    shutil.copy(REPO / "BENCHMARKS.md", benchmarks)
    original = benchmarks.read_text()
    assert BEGIN in original and END in original
    refused = run("benchmarks/fill_gpu_rows.py", str(out / "gpu_check.json"), "--benchmarks", str(benchmarks))
    assert refused.returncode == 2 and "dry run" in refused.stderr and benchmarks.read_text() == original
    done = run("benchmarks/fill_gpu_rows.py", str(out / "gpu_check.json"), "--benchmarks", str(benchmarks), "--allow-cpu")
    assert done.returncode == 0, done.stderr
    text = benchmarks.read_text()
    section = text[text.index(BEGIN) : text.index(END)]
    report = json.loads((out / "gpu_check.json").read_text())
    for step in report["steps"]:
        assert step["command"] in section, step["name"]
    step = next(s for s in report["steps"] if s["name"] == "step_1024")
    assert f"| {step['result']['ours']['img_per_s']:.2f}" in section
    assert report["meta"]["torch"] in section and report["meta"]["date"] in section
    # outside the markers nothing changed, and filling again gives the same file
    assert text[: text.index(BEGIN)] == original[: original.index(BEGIN)]
    assert text[text.index(END) :] == original[original.index(END) :]
    again = run("benchmarks/fill_gpu_rows.py", str(out / "gpu_check.json"), "--benchmarks", str(benchmarks), "--allow-cpu")
    assert again.returncode == 0 and benchmarks.read_text() == text


def test_a_step_past_its_limit_is_recorded_and_the_next_one_runs_and_a_spent_budget_runs_nothing(tmp_path):
    done = run("benchmarks/gpu_check.py", "--device", "cpu", "--tiny", "--out", str(tmp_path / "a"),
               "--only", "gpu_tests", "instance_pool", "--limit", "gpu_tests=0.5")
    assert done.returncode == 1
    steps = json.loads((tmp_path / "a" / "gpu_check.json").read_text())["steps"]
    assert [(s["name"], s["status"]) for s in steps] == [("gpu_tests", "timeout"), ("instance_pool", "ok")]
    assert steps[0]["wall_s"] < 5
    done = run("benchmarks/gpu_check.py", "--device", "cpu", "--tiny", "--out", str(tmp_path / "b"),
               "--only", "gpu_tests", "instance_pool", "--budget-s", "1.5")
    steps = json.loads((tmp_path / "b" / "gpu_check.json").read_text())["steps"]
    assert [s["status"] for s in steps] == ["timeout", "not run"] and "budget" in steps[1]["error"]
    rows = run("benchmarks/fill_gpu_rows.py", str(tmp_path / "b" / "gpu_check.json"), "--print", "--allow-cpu")
    assert rows.returncode == 0 and "**timeout**" in rows.stdout and "**not run**" in rows.stdout


def test_gpu_check_refuses_cuda_without_a_device_and_bad_options(tmp_path):
    import torch

    if not torch.cuda.is_available():
        done = run("benchmarks/gpu_check.py", "--out", str(tmp_path))
        assert done.returncode == 2 and "no CUDA device" in done.stderr and not (tmp_path / "gpu_check.json").exists()
    done = run("benchmarks/gpu_check.py", "--limit", "nosuchstep=3")
    assert done.returncode == 2 and "nosuchstep" in done.stderr
    listed = run("benchmarks/gpu_check.py", "--list")
    assert listed.returncode == 0 and all(name in listed.stdout for name in STEP_NAMES)
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    done = run("benchmarks/fill_gpu_rows.py", str(bad), "--print")
    assert done.returncode == 2 and "not a gpu_check report" in done.stderr


def test_an_inference_step_cut_short_keeps_the_rows_it_measured(dry_run, tmp_path):
    out, _ = dry_run
    report = json.loads((out / "gpu_check.json").read_text())
    step = next(s for s in report["steps"] if s["name"] == "inference")
    step.update(status="timeout", result=step["result"][:1])
    cut = tmp_path / "cut.json"
    cut.write_text(json.dumps(report))
    rows = run("benchmarks/fill_gpu_rows.py", str(cut), "--print", "--allow-cpu")
    assert rows.returncode == 0, rows.stderr
    first = step["result"][0]
    assert f"| {first['size']} | {first['precision']} | {first['network']} |" in rows.stdout
    assert "The rest: **timeout**" in rows.stdout
