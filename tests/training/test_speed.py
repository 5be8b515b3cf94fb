"""Speed switches: activation checkpointing and torch.compile change nothing but speed and memory."""

import pytest
import torch
from pytorch_lightning.callbacks import Callback

from hrgan.models import Pix2PixHDGenerator, SPADEGenerator, UNetGenerator, set_activation_checkpointing
from hrgan.training.speed import compile_units
from tests.training.helpers import tiny_data, tiny_module, tiny_trainer, two_stages


def saved_bytes_and_grads(generator, x):
    saved = []

    def pack(t):
        saved.append(t.numel() * t.element_size())
        return t

    generator.zero_grad(set_to_none=True)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = generator(x, n_active_enhancers=1) if isinstance(generator, Pix2PixHDGenerator) else generator(x)
    out.square().mean().backward()
    return out.detach(), sum(saved), {n: p.grad.clone() for n, p in generator.named_parameters()}


def test_checkpointed_blocks_give_the_same_result_with_less_stored():
    torch.manual_seed(0)
    generator = Pix2PixHDGenerator(in_channels=5, ngf=4, n_downsample_global=2, n_blocks_global=3, n_local_enhancers=1,
                                   n_blocks_local=2)
    x = torch.randn(2, 5, 64, 96)
    out, stored, grads = saved_bytes_and_grads(generator, x)
    assert set_activation_checkpointing(generator) == 5
    out_ckpt, stored_ckpt, grads_ckpt = saved_bytes_and_grads(generator, x)
    torch.testing.assert_close(out_ckpt, out)
    for name, grad in grads.items():
        torch.testing.assert_close(grads_ckpt[name], grad, msg=name)
    assert stored_ckpt < 0.7 * stored
    with torch.no_grad():  # inference is untouched
        torch.testing.assert_close(generator(x, n_active_enhancers=1), out)


def test_checkpointed_spade_blocks_repeat_no_side_effect_of_their_forward():
    """Recomputed in backward, SPADE's blocks must not run spectral norm's power iteration or update the batch
    norms' running statistics a second time: the buffers after a step equal those of an unchecked step."""
    torch.manual_seed(0)
    generator = SPADEGenerator(in_channels=5, ngf=4).train()
    x = torch.rand(2, 5, 64, 64)
    start = {k: v.clone() for k, v in generator.state_dict().items()}
    out, stored, grads = saved_bytes_and_grads(generator, x)
    after = {k: v.clone() for k, v in generator.state_dict().items()}
    generator.load_state_dict(start)
    assert set_activation_checkpointing(generator) == 7
    out_ckpt, stored_ckpt, grads_ckpt = saved_bytes_and_grads(generator, x)
    torch.testing.assert_close(out_ckpt, out)
    for name, grad in grads.items():
        torch.testing.assert_close(grads_ckpt[name], grad, msg=name)
    for name, value in generator.state_dict().items():  # weight_u / weight_v, running_mean / var, batch counts
        torch.testing.assert_close(value, after[name], msg=name)
    assert any(not torch.equal(after[k], start[k]) for k in after if k.endswith("running_mean"))
    assert stored_ckpt < 0.7 * stored


def test_compile_units_cover_generator_discriminator_and_vgg():
    module = tiny_module()
    units = compile_units(module.generator, module.discriminator)
    kinds = {type(u).__name__ for u in units}
    assert kinds == {"Sequential", "PatchDiscriminator"}
    assert sum(type(u).__name__ == "PatchDiscriminator" for u in units) == 2
    # every parameter of the generator lives in some unit: nothing trains outside the compiled code
    covered = {id(p) for u in units for p in u.parameters()}
    assert all(id(p) in covered for p in module.generator.parameters())


def test_a_unet_or_spade_generator_is_one_compile_unit():
    for generator in (UNetGenerator(in_channels=5, num_downs=5, ngf=4), SPADEGenerator(in_channels=5, ngf=4)):
        assert compile_units(generator) == [generator]


def compiled_frames() -> int:
    from torch._dynamo.utils import counters

    return sum(counters["frames"].values())


class CompileCounter(Callback):
    """Dynamo's compiled-frame count at the start of every iteration, with the stage index."""

    def __init__(self):
        self.rows = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if not pl_module.progress.end_epoch:
            self.rows.append((pl_module.current_growth().stage, compiled_frames()))


def test_compiled_training_matches_eager_and_recompiles_only_at_stage_transitions(tiny_shards, tmp_path):
    pytest.importorskip("torch._inductor")
    results = {}
    for compiled in (False, True):
        torch._dynamo.reset()
        torch.manual_seed(0)
        module = tiny_module(two_stages(3, 4, fade_in_steps=3), compile=compiled, activation_checkpointing=compiled)
        counter = CompileCounter()
        tiny_trainer(tmp_path / str(compiled), [counter]).fit(module, tiny_data(tiny_shards, flip=False))
        results[compiled] = module, counter.rows
    eager, _ = results[False]
    compiled, rows = results[True]
    for (name, a), b in zip(eager.generator.state_dict().items(), compiled.generator.state_dict().values(), strict=True):
        torch.testing.assert_close(b, a, atol=2e-3, rtol=1e-2, msg=name)
    # frames compile during a stage's first iteration (seen at the next one's start) and never after,
    # although the fade-in weight changes every iteration of stage 2
    by_stage = {}
    for stage, count in rows:
        by_stage.setdefault(stage, []).append(count)
    assert sorted(by_stage) == [0, 1]
    for stage, counts in by_stage.items():
        assert len(set(counts[1:])) == 1, (stage, counts)
    assert by_stage[1][0] == by_stage[0][-1] and by_stage[1][1] > by_stage[1][0]  # stage 2 compiled anew
    before = compiled_frames()
    batch = next(tiny_data(tiny_shards).fixed_batches(3, device="cpu", split="train", batch_size=3))
    with torch.no_grad():  # sample grids and validation: another batch size, run eagerly
        compiled.generate(compiled.generator, compiled.condition(batch), batch, compiled.current_growth())
    assert compiled_frames() == before


def test_bf16_autocast_trains_without_nan_and_keeps_float32_weights(tiny_shards, tmp_path):
    torch.manual_seed(0)
    module = tiny_module(two_stages(3, 3))
    before = {k: v.clone() for k, v in module.generator.state_dict().items()}
    seen = []

    class Losses(Callback):
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            seen.append({k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("loss/")})

    dtypes = set()
    first_conv = next(m for m in module.generator.modules() if isinstance(m, torch.nn.Conv2d))
    first_conv.register_forward_hook(lambda m, i, out: dtypes.add(out.dtype))
    tiny_trainer(tmp_path, [Losses()], precision="bf16-mixed").fit(module, tiny_data(tiny_shards))
    assert dtypes == {torch.bfloat16}
    assert len(seen) >= 6 and all(torch.isfinite(torch.tensor(list(row.values()))).all() for row in seen)
    weights = module.generator.state_dict()
    assert all(v.dtype == torch.float32 for v in weights.values())  # autocast: bf16 compute, fp32 master weights
    assert any(not torch.equal(weights[k], before[k]) for k in before)


def test_every_compiled_unit_is_traced_by_dynamo():
    """nn.Module.compile on a Sequential of torch layers traced nothing (dynamo skips Module._call_impl):
    each unit must yield a graph of its own."""
    pytest.importorskip("torch._inductor")
    from torch._dynamo.utils import counters

    from hrgan.models import GlobalGenerator
    from hrgan.training.speed import compile_networks

    torch._dynamo.reset()
    counters.clear()
    generator = GlobalGenerator(in_channels=4, ngf=4, n_downsample=2, n_blocks=1)
    x = torch.randn(1, 4, 32, 32)
    expected = generator(x)
    units = compile_networks(generator)
    out = generator(x)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-4)
    assert counters["stats"]["unique_graphs"] == units == 5  # stem, down, blocks, up, head
    assert list(generator.state_dict()) == list(GlobalGenerator(in_channels=4, ngf=4, n_downsample=2, n_blocks=1).state_dict())
