# The README's commands. Everything installs into .venv; torch goes in first so that
# pip never pulls a CUDA build onto a CPU machine (override TORCH_SPEC / TORCH_PIP_ARGS,
# e.g. TORCH_PIP_ARGS="--index-url https://download.pytorch.org/whl/cu124" on a GPU box).
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
TORCH_PIP_ARGS ?=
PYTEST_ARGS ?=

PY := $(VENV)/bin/python
STAMP := $(VENV)/.hrgan-installed

.PHONY: setup browser test demo clean gpu-wheels gpu-check

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	@$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install $(TORCH_PIP_ARGS) "$(TORCH_SPEC)"
	$(PY) -m pip install -e ".[dev,onnx,studio]"
	@touch $(STAMP)

setup: $(STAMP)

# The studio's browser test drives Debian's Chromium with Playwright's client (no browser download): both are
# installed here when missing and possible (Chromium: root with apt-get, non-interactive, 5 minutes at most),
# else that one test skips and says why; nothing here can fail `make test`.
browser: setup
	@$(PY) -c "import playwright" 2>/dev/null || $(PY) -m pip install -q "playwright>=1.40" </dev/null \
	    || echo "no Playwright client: the studio's browser test will skip"
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || { [ "$$(id -u)" = 0 ] && \
	    command -v apt-get >/dev/null && echo "installing Debian's chromium for the studio's browser test" && \
	    { DEBIAN_FRONTEND=noninteractive timeout 300 apt-get install -y -q chromium </dev/null >/dev/null 2>&1 || \
	      { DEBIAN_FRONTEND=noninteractive timeout 120 apt-get update -q </dev/null >/dev/null 2>&1 && \
	        DEBIAN_FRONTEND=noninteractive timeout 300 apt-get install -y -q chromium </dev/null >/dev/null 2>&1; }; }; } \
	    || echo "no Chromium: the studio's browser test will skip"

test: setup browser
	$(PY) -m pytest $(PYTEST_ARGS)

# Train on synthetic scenes, then turn held-out scenes of another, odd size (seed 7: unseen) into photos.
demo: setup
	$(VENV)/bin/hrgan env
	$(VENV)/bin/hrgan fit --config configs/demo.yaml
	$(VENV)/bin/hrgan synth --out runs/demo/heldout --split test --num 4 --size 300x150 --seed 7 --workers 1
	$(VENV)/bin/hrgan infer --checkpoint runs/demo/export.pt --labels runs/demo/heldout/test_label \
	    --instances runs/demo/heldout/test_inst --out runs/demo/infer --side-by-side --overwrite
	$(VENV)/bin/hrgan evaluate --checkpoint runs/demo/export.pt --data 'runs/demo/data/shards/val-*.tar' \
	    --metrics psnr,ssim --out runs/demo/eval/report.json --workers 0 --overwrite

# The GPU check (benchmarks/gpu_check.py) on a machine without a network: `make gpu-wheels` where pip works
# downloads what a CUDA image with torch, Lightning, torchmetrics and pytest lacks into .whl/ (the versions
# installed here; GPU_PYTHON_VERSION is the GPU machine's Python), `make gpu-check` there installs them into
# /tmp/hrgan-site and runs the check with that machine's python3 (GPU_PYTHON).
GPU_WHEELS := webdataset braceexpand kornia kornia_rs jsonargparse docstring_parser typeshed_client
GPU_PYTHON_VERSION ?= 3.12
GPU_PYTHON ?= python3
GPU_SITE ?= /tmp/hrgan-site
GPU_CHECK_ARGS ?=

gpu-wheels: setup
	$(PY) -m pip download --no-deps --only-binary=:all: --python-version $(GPU_PYTHON_VERSION) --implementation cp \
	    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl \
	    $$($(PY) -c "import importlib.metadata as m; print(' '.join(n + '==' + m.version(n) for n in '$(GPU_WHEELS)'.split()))")

gpu-check:
	@if ls .whl/*.whl >/dev/null 2>&1; then \
	    $(GPU_PYTHON) -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target $(GPU_SITE) .whl/*.whl; fi
	PYTHONPATH=$(GPU_SITE):. $(GPU_PYTHON) benchmarks/gpu_check.py $(GPU_CHECK_ARGS)

clean:
	rm -rf $(VENV) runs/demo
