"""The CUDA paths (pytest -m gpu; skipped without a CUDA device): bf16 training, compile, fused Adam,
augmentation and instance pooling on the device, DDP over NCCL. benchmarks/gpu_check.py runs these first."""

import pytest
import torch

from hrgan.data.augment import GPUAugment
from hrgan.models import instance_average_pool
from tests.models.pix2pixhd_layout import loop_instance_average
from tests.training.helpers import tiny_data, tiny_module, tiny_trainer, two_stages

pytestmark = pytest.mark.gpu


def test_bf16_training_on_cuda_is_finite_and_keeps_float32_weights(tiny_shards, tmp_path):
    torch.manual_seed(0)
    module = tiny_module(two_stages(3, 3))
    before = {k: v.clone() for k, v in module.generator.state_dict().items()}
    dtypes = set()
    conv = next(m for m in module.generator.modules() if isinstance(m, torch.nn.Conv2d))
    conv.register_forward_hook(lambda m, i, out: dtypes.add((out.dtype, out.device.type)))
    trainer = tiny_trainer(tmp_path, accelerator="gpu", devices=1, precision="bf16-mixed")
    trainer.fit(module, tiny_data(tiny_shards))
    assert (torch.bfloat16, "cuda") in dtypes
    weights = module.generator.state_dict()
    assert all(v.dtype == torch.float32 and torch.isfinite(v).all() for v in weights.values())
    assert any(not torch.equal(weights[k].cpu(), before[k]) for k in before)


def fit_weights(tmp_path, shards, **options) -> dict:
    torch.manual_seed(0)
    module = tiny_module(two_stages(3, 3), **options)
    tiny_trainer(tmp_path, accelerator="gpu", devices=1).fit(module, tiny_data(shards, flip=False))
    return {k: v.float().cpu() for k, v in module.generator.state_dict().items()}


def test_compiled_training_on_cuda_matches_eager(tiny_shards, tmp_path):
    torch._dynamo.reset()
    eager = fit_weights(tmp_path / "eager", tiny_shards, compile=False)
    torch._dynamo.reset()
    compiled = fit_weights(tmp_path / "compiled", tiny_shards, compile=True)
    for name, value in eager.items():
        torch.testing.assert_close(compiled[name], value, atol=2e-3, rtol=1e-2, msg=name)


def test_fused_adam_on_cuda_matches_the_loop():
    torch.manual_seed(0)
    fused_module, loop_module = tiny_module(fused_adam=True).cuda(), tiny_module(fused_adam=False).cuda()
    loop_module.load_state_dict(fused_module.state_dict())
    start = {k: v.clone() for k, v in loop_module.generator.state_dict().items()}
    (fused_g, fused_d), (loop_g, loop_d) = fused_module.configure_optimizers(), loop_module.configure_optimizers()
    assert fused_g.defaults["fused"] and fused_d.defaults["fused"] and not loop_g.defaults.get("fused")
    for _ in range(3):  # the same gradients into both: only the kernels differ
        grads = [torch.randn_like(p) for p in fused_module.generator.parameters()]
        for module, optimizer in ((fused_module, fused_g), (loop_module, loop_g)):
            for p, g in zip(module.generator.parameters(), grads, strict=True):
                p.grad = g.clone()
            optimizer.step()
    loop_weights, fused_weights = loop_module.generator.state_dict(), fused_module.generator.state_dict()
    for name, value in loop_weights.items():
        torch.testing.assert_close(fused_weights[name], value, atol=1e-6, rtol=1e-5, msg=name)
    assert all(not torch.equal(loop_weights[k], start[k]) for k in start if k.endswith("weight"))


def test_augmentation_on_cuda_matches_the_cpu():
    g = torch.Generator().manual_seed(0)
    batch = {
        "label": torch.randint(0, 8, (2, 64, 128), generator=g, dtype=torch.uint8),
        "inst": torch.randint(0, 30, (2, 64, 128), generator=g, dtype=torch.int32),
        "image": torch.randint(0, 256, (2, 3, 64, 128), generator=g, dtype=torch.uint8),
    }
    results = {}
    for device in ("cpu", "cuda"):
        augment = GPUAugment(size=(96, 48), scale_range=(1.0, 1.2), seed=3)
        out = augment({k: v.to(device) for k, v in batch.items()})
        results[device] = {k: v.cpu() for k, v in out.items() if torch.is_tensor(v)}
    for key, value in results["cpu"].items():
        if value.is_floating_point():
            torch.testing.assert_close(results["cuda"][key], value, atol=2e-2, rtol=0, msg=key)
        else:  # labels and instances are resampled nearest: the same ids
            assert (results["cuda"][key] != value).float().mean() < 0.01, key


def test_instance_pooling_on_cuda_matches_the_official_loop():
    torch.manual_seed(0)
    cells = torch.randint(0, 12, (2, 8, 16))
    instance = (cells * 1000 + 26000).repeat_interleave(8, 1).repeat_interleave(8, 2)
    features = torch.randn(2, 3, 64, 128)
    expected = loop_instance_average(features, instance)
    got = instance_average_pool(features.cuda(), instance.cuda()).cpu()
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs 2 CUDA devices")
def test_two_gpu_ddp_over_nccl_keeps_replicas_identical(tmp_path):
    from tests.training.test_ddp import run_two_process_ddp

    run_two_process_ddp(tmp_path, accelerator="gpu")


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs 2 CUDA devices")
def test_two_gpu_pix2pix_batch_norm_is_synchronised(tiny_shards, tmp_path):
    import json
    import subprocess

    from hrgan.data.labels import LabelConvention
    from hrgan.data.shards import write_split
    from tests.training.test_ddp import REPO, clean_env

    shards = tmp_path / "shards"  # the synthetic photos as image inputs
    assert not write_split("folders", tiny_shards.parent, "train", shards, convention=LabelConvention(0),
                           labels="{split}_img", images="{split}_img", progress=False).bad
    stages = [{"resolution": [64, 32], "n_enhancers": 0, "num_D": 1, "batch_size": 2, "steps": 4, "niter_decay": 0,
               "epochs": None}]
    command = ["bash", "launch/local/train.sh", "configs/pix2pix_facades.yaml", "--trainer.default_root_dir", str(tmp_path),
               "--trainer.logger", "false", "--trainer.enable_progress_bar", "false",
               "--trainer.callbacks+=tests.training.ddp_probe.Probe", "--data.train_urls", str(shards / "train-*.tar"),
               "--data.val_urls", "null", "--data.resolution", "null", "--data.num_workers", "0",
               "--model.generator.init_args.ngf", "4", "--model.generator.init_args.num_downs", "5",
               "--model.discriminator.init_args.ndf", "4", "--model.schedule.stages", json.dumps(stages)]
    result = subprocess.run(["timeout", "-k", "10", "300", *command], cwd=REPO, env=clean_env("gpu"),
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"probe_rank{r}.json").read_text()) for r in (0, 1)]
    assert all(r["sync_batchnorm"] > 0 for r in ranks)  # sync_batchnorm: true, converted by Lightning's DDP
    assert ranks[0]["digest"] == ranks[1]["digest"]  # weights and running statistics alike
