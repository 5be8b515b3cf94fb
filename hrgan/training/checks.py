"""What a run checks before its first step: the schedule against the networks, label_nc against the data.

Each function returns one line per problem, so that every problem is reported at once: the module
raises the network ones together when it is built (``SettingsError``), the ``ProgressiveGrowth``
callback the data ones at setup, and ``hrgan fit`` prints each as a line and exits with the usage code.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn


class SettingsError(ValueError):
    """Settings a run cannot train with; ``problems`` holds one line each (the message lists them all)."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)


def settings_error_in(error: BaseException) -> SettingsError | None:
    """The ``SettingsError`` behind ``error``, which it may be or have been raised from (jsonargparse wraps
    what a class raises while the configuration is instantiated); None when there is none."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, SettingsError):
            return error
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None


def network_problems(schedule, *, generator: nn.Module, discriminator: nn.Module) -> list[str]:
    """Stages the networks cannot run: more enhancers or discriminator scales than they have, and what the
    generator says stops a stage (``GeneratorNetwork.stage_problems``: a resolution off its multiple, a VAE's
    latent size, a missing output layer).

    Args:
        schedule: the run's ``ProgressiveSchedule``.
        generator: any hrgan generator (a ``GeneratorNetwork``).
        discriminator: a ``MultiscaleDiscriminator`` (its ``num_D`` scales).
    """
    found = []
    enhancers = generator.n_local_enhancers
    scales = getattr(discriminator, "num_D", None)
    for i, stage in enumerate(schedule.stages):
        name = f"stage {i + 1}"
        k = stage.n_enhancers
        if scales is not None and stage.num_D > scales:
            found.append(f"{name}: num_D is {stage.num_D}, but the discriminator has {scales} scales (discriminator num_D)")
        if k > enhancers:
            found.append(f"{name}: n_enhancers is {k}, but the generator has {enhancers} local enhancer(s) "
                         "(generator n_local_enhancers)")
        elif k >= 0 and len(stage.resolution) == 2:
            found += [f"{name}: {problem}" for problem in generator.stage_problems(tuple(stage.resolution), k,
                                                                                  bool(stage.fade_in_steps))]
    return found


def combination_problems(generator: nn.Module, discriminator: nn.Module, conditioning, objective, speed) -> list[str]:
    """Settings of different groups that do not go together: the discriminator's channels and the
    conditioning, compile with activation checkpointing of a generator that cannot, compile with WGAN-GP."""
    found = []
    d_channels = discriminator.discriminators[0].layers[0][0].in_channels
    if d_channels != conditioning.discriminator_channels:
        found.append(f"the discriminator takes {d_channels} channels, expected {conditioning.discriminator_channels}")
    if speed.compile and speed.activation_checkpointing and not generator.checkpoints_under_compile:
        found.append(f"activation_checkpointing with compile is not supported for {type(generator).__name__} (its "
                     "recomputation must not repeat spectral norm's power iteration, which compiled code would): "
                     "choose one")
    if objective.wgan and speed.compile:
        found.append("gan_mode wgan-gp needs the gradient of a gradient, which torch.compile does not support: "
                     "set compile: false")
    return found


def data_problems(conditioning, schedule, data, objective, precision: str | None) -> list[str]:
    """What the run's data (a ``TrainingData`` or None) and precision say against the settings: label_nc and the
    ignore value against the shards' manifests, sizes that batches cannot stack, WGAN-GP's penalty under fp16."""
    urls = [data.train_urls, data.val_urls] if data is not None else []
    found = [line for u in urls for line in label_problems(conditioning.label_nc, conditioning.ignore_index, u)]
    for u in urls:
        found += size_problems(u, data.load_size, [stage.batch_size for stage in schedule.stages])
    if objective.wgan and str(precision).startswith("16"):
        found.append("gan_mode wgan-gp with precision 16-mixed: the gradient penalty's inner gradient is not loss-scaled "
                     "and can underflow; use bf16-mixed or 32")
    return found


def label_problems(label_nc: int, ignore_index: int | None, urls: str | Sequence[str] | None) -> list[str]:
    """``label_nc`` or ``ignore_index`` disagreeing with what the manifest.json beside the shards of ``urls`` records."""
    from hrgan.data.stream import manifest_entries

    if not urls:
        return []
    try:
        entries = manifest_entries(urls)
    except (FileNotFoundError, ValueError):  # no shards: the data module says so when it reads them
        return []
    problems = []
    for where, entry in entries.items():
        recorded_nc = entry.get("label_nc")
        if recorded_nc is not None and recorded_nc != label_nc and 0 in (label_nc, recorded_nc):
            problems.append(f"the model takes {'input images' if label_nc == 0 else 'label maps'} (label_nc {label_nc}), "
                            f"but the shards' manifest {where} records {'label maps' if recorded_nc else 'input images'} "
                            f"(label_nc {recorded_nc}): set model.label_nc: {recorded_nc}, or write the shards with "
                            f"'hrgan shards --input {'image' if label_nc == 0 else 'labels'}'")
        elif recorded_nc is not None and recorded_nc != label_nc:
            problems.append(f"label_nc is {label_nc}, but the shards' manifest {where} records label_nc {recorded_nc}")
        recorded = entry.get("ignore_index")
        if recorded is not None and recorded != ignore_index:
            problems.append(f"ignore_index is {ignore_index}, but the shards' manifest {where} marks unlabeled pixels "
                            f"{recorded}: set model.ignore_index: {recorded} (--model.ignore_index {recorded})")
    return problems


def size_problems(urls: str | Sequence[str] | None, load_size, batch_sizes: Sequence[int]) -> list[str]:
    """Shards of several image sizes, recorded in their manifest, that batches of more than one sample cannot stack."""
    from hrgan.data.stream import manifest_entries

    if not urls or load_size is not None or max(batch_sizes, default=1) <= 1:
        return []
    try:
        entries = manifest_entries(urls)
    except (FileNotFoundError, ValueError):
        return []
    problems = []
    for where, entry in entries.items():
        sizes = entry.get("image_sizes") or {}
        if len(sizes) > 1:
            commonest = max(sizes, key=sizes.get).replace("x", ",")
            shown = ", ".join(f"{size} ({n})" for size, n in sorted(sizes.items(), key=lambda kv: -kv[1]))
            problems.append(f"the shards' manifest {where} records samples of {len(sizes)} sizes ({shown}), which "
                            f"batches of {max(batch_sizes)} cannot stack: set --data.load_size [{commonest}] "
                            "(resized on load), or re-shard with 'hrgan shards --size WxH'")
    return problems
