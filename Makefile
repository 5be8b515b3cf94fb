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

.PHONY: setup test demo clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	@$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install $(TORCH_PIP_ARGS) "$(TORCH_SPEC)"
	$(PY) -m pip install -e ".[dev,onnx]"
	@touch $(STAMP)

setup: $(STAMP)

test: setup
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

clean:
	rm -rf $(VENV) runs/demo
