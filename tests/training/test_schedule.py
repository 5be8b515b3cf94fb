import pytest

from hrgan.training.schedule import ProgressiveSchedule, Stage


def schedule():
    return ProgressiveSchedule([
        Stage(resolution=(64, 32), n_enhancers=0, num_D=2, batch_size=4, steps=10, niter_decay=4),
        Stage(resolution=(128, 64), n_enhancers=1, num_D=3, batch_size=2, steps=8, fix_global_steps=3, fade_in_steps=4),
    ])


def test_stage_boundaries_and_state():
    s = schedule()
    assert s.total_steps == 18 and s.start(1) == 10
    assert [s.stage_index(i) for i in (0, 9, 10, 17, 99)] == [0, 0, 1, 1, 1]
    state = s.state(12)
    assert (state.stage, state.step_in_stage, state.resolution, state.num_D, state.batch_size) == (1, 2, (128, 64), 3, 2)


def test_lr_is_constant_then_decays_linearly_and_the_last_step_still_learns():
    s = schedule()
    # pix2pixHD: lr stays for niter = 10 - 4 = 6 steps; each decay step runs at lr * (decay steps left, this one
    # included) / niter_decay, so the first at lr and the last at lr / niter_decay (never 0 within the stage)
    assert [s.state(i).lr_factor for i in range(10)] == [1, 1, 1, 1, 1, 1, 1, 0.75, 0.5, 0.25]
    assert s.state(9).lr_factor == 1 / 4
    assert all(s.state(i).lr_factor == 1 for i in range(10, 18))  # stage 1 has no decay


def test_fade_in_and_fixed_global():
    s = schedule()
    # alpha goes 0 -> 1 over fade_in_steps: the stage's first step runs the new enhancer at alpha 0
    assert [s.state(10 + i).alpha for i in range(6)] == [0.0, 0.25, 0.5, 0.75, 1.0, 1.0]
    assert [s.state(10 + i).train_only_newest for i in range(5)] == [True, True, True, False, False]
    assert s.state(0).alpha == 1.0 and not s.state(0).train_only_newest


def test_epoch_stages_convert_with_their_lr_schedule():
    s = ProgressiveSchedule([Stage(epochs=2, niter_decay=1)])
    with pytest.raises(ValueError, match="epochs"):
        _ = s.total_steps
    s.set_epoch_length(0, 5)
    assert s.total_steps == 10 and s.stages[0].niter_decay == 5
    s.set_epoch_length(0, 7)  # once: a resumed run keeps the length it started with
    assert s.total_steps == 10 and s.stages[0].niter_decay == 5
    assert s.state(5).lr_factor == 1.0 and s.state(6).lr_factor == pytest.approx(0.8)
    assert s.state(9).lr_factor == pytest.approx(0.2)


@pytest.mark.parametrize("stages, message", [
    ([Stage(steps=1, epochs=1)], "exactly one of steps or epochs"),
    ([Stage(steps=1, n_enhancers=1), Stage(steps=1, n_enhancers=0)], "may not shrink"),
    ([Stage(steps=1), Stage(steps=1, fade_in_steps=5)], "adds an enhancer"),
    ([], "at least one stage"),
])
def test_bad_schedules_are_refused(stages, message):
    with pytest.raises(ValueError, match=message):
        ProgressiveSchedule(stages)
