"""Callbacks: progressive growth, sample grids, the inference export, the fidelity report, evaluation, checkpoints."""

from __future__ import annotations

import contextlib
import resource
import time
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback, ModelCheckpoint
from pytorch_lightning.loggers import CSVLogger, TensorBoardLogger
from pytorch_lightning.utilities import rank_zero_info, rank_zero_only

from hrgan.artifacts import save_export
from hrgan.conditioning import instance_edges
from hrgan.evaluation.metrics import EvaluationMetrics, load_segmenter
from hrgan.evaluation.options import parse_metrics
from hrgan.evaluation.report import summary_line
from hrgan.evaluation.scoring import score
from hrgan.io import remove_stale_temporaries
from hrgan.training.stage import StageDriver, training_data
from hrgan.visualize import colorize_labels, image_to_uint8, save_png


# The name of what a run writes at an iteration: checkpoints/iter_0000200.ckpt, samples/iter_0000200.png.
ITERATION_NAME = "iter_{iteration:07d}"


@contextlib.contextmanager
def evaluating(module: torch.nn.Module):
    """``module`` in eval mode, restored after: batch norm on its running statistics and no dropout, as export
    and ``hrgan infer`` run it (and no SyncBatchNorm exchange, which a rank-zero-only forward would hang on)."""
    was_training = module.training
    module.eval()
    try:
        yield module
    finally:
        module.train(was_training)


def run_dir(trainer: pl.Trainer) -> Path:
    """Where this run writes samples and exports: the logger's folder, else default_root_dir.

    The same folder as ``trainer.log_dir``, but without its broadcast: this is called from
    rank-zero-only code, where a collective would deadlock the other ranks.
    """
    if trainer.loggers:
        logger = trainer.loggers[0]
        folder = logger.log_dir if isinstance(logger, (CSVLogger, TensorBoardLogger)) else logger.save_dir
        if folder:
            return Path(folder)
    return Path(trainer.default_root_dir)


class ProgressiveGrowth(Callback):
    """Says where every rank is at the start, and logs the stage, fade-in alpha, learning rates, iteration and
    speed after every iteration. The module's ``StageDriver`` moves the run through its stages."""

    def __init__(self) -> None:
        self._last_time: float | None = None

    def on_fit_start(self, trainer: pl.Trainer, pl_module) -> None:
        # Every rank says where it is: a wrong world size (no srun, --ntasks instead of
        # --ntasks-per-node) shows here instead of as a silent single-process run or a hang.
        print(
            f"rank {trainer.global_rank} of world size {trainer.world_size} (node rank {trainer.node_rank}, "
            f"local rank {trainer.local_rank}, {type(getattr(trainer.strategy, 'cluster_environment', None)).__name__}); "
            f"global batch = per-device batch x {trainer.world_size}",
            flush=True,
        )

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module, batch, batch_idx: int) -> None:
        self._last_time = time.perf_counter()

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        growth = pl_module.current_growth()
        size = batch["image"].shape[0]
        metrics = {
            "growth/stage": float(growth.stage),
            "growth/alpha": growth.alpha,
            **StageDriver.learning_rates(pl_module),  # what the optimizers hold: schedule and linear batch scaling
            "iteration": float(pl_module.iteration),
            "step": float(pl_module.iteration),  # Lightning logs at this step (else: batches, not counting stage ends)
        }
        if self._last_time is not None:
            metrics["perf/images_per_s"] = size * trainer.world_size / max(time.perf_counter() - self._last_time, 1e-9)
        if torch.cuda.is_available():
            metrics["perf/peak_memory_gb"] = torch.cuda.max_memory_allocated() / 2**30
        else:
            metrics["perf/peak_rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
        pl_module.log_dict(metrics, batch_size=size)


class SampleGrids(Callback):
    """Every ``every_n_iterations`` iterations (and at the end), a grid for a fixed batch:
    colourised labels | instance edges (when the data has them) | generated (EMA, when kept) | real,
    one row per sample.

    Written as ``samples/iter_NNNNNNN.png`` (and ``samples/latest.png``) in the run
    directory and sent to every logger that has ``log_image`` (wandb), as uint8.
    """

    def __init__(self, every_n_iterations: int = 500, num_samples: int = 4) -> None:
        self.every_n_iterations = every_n_iterations
        self.num_samples = num_samples
        self.columns: list[str] = []  # of the last grid rendered

    @torch.no_grad()
    def render(self, trainer: pl.Trainer, pl_module) -> np.ndarray | None:
        """The grid as uint8 [H, W, 3] (its column names in ``self.columns``), or None without samples."""
        datamodule = training_data(trainer)
        if datamodule is None:
            return None
        split = "val" if datamodule.val_urls is not None else "train"
        batch = next(datamodule.fixed_batches(self.num_samples, device=pl_module.device, split=split,
                                              batch_size=self.num_samples), None)
        if batch is None:  # no samples: a StopIteration here would end Lightning's epoch
            return None
        growth = pl_module.current_growth()
        cond = pl_module.condition(batch)
        generator = pl_module.generator_ema or pl_module.generator
        with evaluating(pl_module):
            fake = pl_module.generate(generator, cond, batch, growth)
        palette = np.array(pl_module.classes.colors, dtype=np.uint8)
        self.columns = ["labels" if "label" in batch else "input", *(["instance edges"] if "inst" in batch else []),
                        "generated (EMA)" if pl_module.generator_ema is not None else "generated", "real"]
        rows = []
        for i in range(fake.shape[0]):
            panels = [colorize_labels(batch["label"][i], palette) if "label" in batch else image_to_uint8(batch["input"][i])]
            if "inst" in batch:
                edges = instance_edges(batch["inst"][i : i + 1])[0, 0]
                panels.append(np.repeat((edges.cpu().numpy() * 255).astype(np.uint8)[..., None], 3, axis=2))
            panels += [image_to_uint8(fake[i]), image_to_uint8(batch["image"][i])]
            rows.append(np.concatenate(panels, axis=1))
        return np.concatenate(rows, axis=0)

    @rank_zero_only
    def _write(self, trainer: pl.Trainer, pl_module) -> None:
        grid = self.render(trainer, pl_module)
        if grid is None:
            return
        folder = run_dir(trainer) / "samples"
        iteration = pl_module.iteration
        save_png(folder / f"{ITERATION_NAME.format(iteration=iteration)}.png", grid)
        save_png(folder / "latest.png", grid)
        for logger in trainer.loggers:
            if hasattr(logger, "log_image"):
                logger.log_image(key="samples", images=[grid], step=iteration,
                                 caption=[f"iteration {iteration}: {' | '.join(self.columns)}"])

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        if pl_module.iteration and pl_module.iteration % self.every_n_iterations == 0:
            self._write(trainer, pl_module)

    def on_train_end(self, trainer: pl.Trainer, pl_module) -> None:
        self._write(trainer, pl_module)


class InferenceExport(Callback):
    """Writes ``export.pt`` (generator with EMA weights, its constructor arguments, classes and
    conditioning settings) to the run directory whenever a checkpoint is saved and at the end."""

    def __init__(self, filename: str = "export.pt") -> None:
        self.filename = filename

    @rank_zero_only
    def write(self, trainer: pl.Trainer, pl_module) -> Path:
        path = save_export(run_dir(trainer) / self.filename, pl_module.inference_export())
        return path

    def on_save_checkpoint(self, trainer: pl.Trainer, pl_module, checkpoint: dict) -> None:
        self.write(trainer, pl_module)

    def on_train_end(self, trainer: pl.Trainer, pl_module) -> None:
        path = self.write(trainer, pl_module)
        if path is not None:
            rank_zero_info(f"inference export: {path}")


class FidelityReport(Callback):
    """At the end of training: PSNR of the EMA generator on the validation shards against the
    per-class mean colour of the training shards, printed as one line and written to ``fidelity.json``."""

    def __init__(self, max_train_samples: int = 800) -> None:
        self.max_train_samples = max_train_samples

    @torch.no_grad()
    def compute(self, trainer: pl.Trainer, pl_module) -> dict[str, float] | None:
        from hrgan.evaluation.fidelity import class_mean_colours, fidelity_report

        datamodule = training_data(trainer)
        if datamodule is None or datamodule.val_urls is None or pl_module.label_nc == 0:
            return None  # the class-mean baseline needs label maps
        growth = pl_module.current_growth()
        train = datamodule.fixed_batches(self.max_train_samples, device=pl_module.device, split="train")
        means = class_mean_colours(train, pl_module.label_nc)
        generator = pl_module.generator_ema or pl_module.generator

        def generate(batch):
            return pl_module.generate(generator, pl_module.condition(batch), batch, growth)

        val = datamodule.fixed_batches(None, device=pl_module.device)
        return fidelity_report(val, generate, means, pl_module.classes.random_appearance)

    def on_train_end(self, trainer: pl.Trainer, pl_module) -> None:
        if not trainer.is_global_zero:
            return
        import json

        from hrgan.io import write_bytes_atomic
        from hrgan.evaluation.fidelity import report_line

        with evaluating(pl_module):
            scores = self.compute(trainer, pl_module)
        if scores is None:
            return
        write_bytes_atomic(run_dir(trainer) / "fidelity.json", json.dumps(scores, indent=1).encode())
        print(report_line(scores), flush=True)


class Evaluation(Callback):
    """Every ``every_n_iterations`` (and at the end): ``hrgan evaluate``'s metrics, logged as ``eval/*``.

    The subset is the first ``num_samples`` validation samples (the same ones each time), split
    over the ranks and scored at the current stage's resolution with the EMA generator.

    Args:
        every_n_iterations: how often (0: only at the end).
        num_samples: size of the subset (FID needs a few hundred to mean much).
        metrics: comma-separated, from fid, psnr, ssim, miou.
        inception_weights: FID's Inception file (default: the torch hub cache; an error at start when missing).
        segmenter: TorchScript segmentation network, for miou.
        urls: shards to use (default: the data module's validation shards).
        batch_size: samples per generator call.
        at_end: also evaluate when training ends.
    """

    def __init__(
        self,
        every_n_iterations: int = 5000,
        num_samples: int = 200,
        metrics: str = "psnr,ssim",
        inception_weights: str | None = None,
        segmenter: str | None = None,
        urls: str | None = None,
        batch_size: int = 4,
        at_end: bool = True,
    ) -> None:
        self.every, self.num_samples = every_n_iterations, num_samples
        self.metric_names = parse_metrics(metrics)
        self.inception_weights, self.segmenter, self.urls = inception_weights, segmenter, urls
        self.batch_size, self.at_end = batch_size, at_end
        self.metrics: EvaluationMetrics | None = None
        self._networks: dict | None = None
        self.last: dict | None = None  # the latest results (all ranks), for inspection
        self._done_at = -1

    def setup(self, trainer: pl.Trainer, pl_module, stage: str) -> None:
        """Read the Inception and segmenter files now, so a missing one stops the run before it trains."""
        if stage != "fit" or self._networks is not None:
            return
        from hrgan.pretrained import load_fid_inception

        if "miou" in self.metric_names and not self.segmenter:
            raise ValueError("Evaluation: miou needs segmenter: path/to/model.pt (TorchScript)")
        if "miou" in self.metric_names and pl_module.label_nc == 0:
            raise ValueError("Evaluation: miou compares a segmentation of the output with the label map, and this model "
                             "takes input images (label_nc 0): use psnr, ssim or fid")
        self._networks = {
            "inception": load_fid_inception(self.inception_weights) if "fid" in self.metric_names else None,
            "segmenter": load_segmenter(Path(self.segmenter), torch.device("cpu")) if self.segmenter else None,
        }

    def _metrics(self, pl_module) -> EvaluationMetrics:
        # Built at the first evaluation: in setup the module is not yet on its device.
        if self.metrics is None:
            segmenter = self._networks["segmenter"]
            self.metrics = EvaluationMetrics(
                metrics=self.metric_names,
                label_nc=pl_module.label_nc,
                ignore_index=pl_module.ignore_index,
                inception=self._networks["inception"],
                segmenter=segmenter.to(pl_module.device) if segmenter is not None else None,
                palette=pl_module.classes.colors,
                keep=0,
                device=pl_module.device,
            )
        return self.metrics

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module, batch, batch_idx: int) -> None:
        # Before the batch's update: the weights are exactly those after `iteration` iterations.
        iteration = pl_module.iteration
        if self.every > 0 and iteration > 0 and iteration % self.every == 0 and iteration != self._done_at:
            self.evaluate(trainer, pl_module)

    def on_train_end(self, trainer: pl.Trainer, pl_module) -> None:
        if self.at_end and pl_module.iteration != self._done_at:
            self.evaluate(trainer, pl_module)

    @torch.no_grad()
    def evaluate(self, trainer: pl.Trainer, pl_module) -> dict | None:
        """Score the subset on every rank, combine, log ``eval/*`` from rank zero; returns the results."""
        datamodule = training_data(trainer)
        urls = self.urls or (datamodule.val_urls if datamodule is not None else None)
        if urls is None or self._networks is None:
            return None
        metrics = self._metrics(pl_module)
        self._done_at = pl_module.iteration
        generator = pl_module.generator_ema or pl_module.generator
        growth = pl_module.current_growth()
        batches = datamodule.fixed_batches(self.num_samples, device=pl_module.device, urls=urls,
                                           batch_size=self.batch_size, per_rank=True)
        with evaluating(pl_module):
            result = score(metrics, batches, lambda batch: pl_module.generate(generator, pl_module.condition(batch),
                                                                              batch, growth))
        self.last = result
        logged = {f"eval/{k}": float(result[k]) for k in ("fid", "psnr", "ssim", "miou", "pixel_accuracy") if k in result}
        if "segmentation" in result:
            logged["eval/miou_real"] = result["segmentation"]["real"]["miou"]
        if trainer.is_global_zero:
            for logger in trainer.loggers:
                logger.log_metrics(logged, step=pl_module.iteration)
            rank_zero_info(f"evaluation at iteration {pl_module.iteration}: {summary_line(result)}")
        return result


class Checkpoints(ModelCheckpoint):
    """Lightning's ModelCheckpoint, counted in iterations, and always saving ``last.ckpt`` at the end.

    Lightning's global step counts optimizer steps: two per pix2pixHD iteration, one on WGAN-GP's critic-only
    iterations; ``every_n_iterations`` and the file names count iterations instead. The end-of-training
    save covers runs that stop mid-epoch, where ModelCheckpoint alone would keep an older last.ckpt.

    Args:
        every_n_iterations: save ``{dirpath}/iter_NNNNNNN.ckpt`` every this many iterations (None: only at the end).
        dirpath: the folder (the hrgan CLI sets ``{default_root_dir}/checkpoints``).
        keep: how many periodic checkpoints to keep, the newest written (-1: all; 0: only ``last.ckpt``).
    """

    def __init__(self, *, every_n_iterations: int | None = None, dirpath: str | None = None, keep: int = -1) -> None:
        if keep < -1:
            raise ValueError(f"Checkpoints: keep must be -1 (all) or at least 0, got {keep}")
        self.keep, self.every_n_iterations = keep, every_n_iterations
        super().__init__(
            dirpath=dirpath,
            filename=ITERATION_NAME,
            auto_insert_metric_name=False,
            # counted in iterations here (on_train_batch_end), not in optimizer steps, of which an iteration
            # makes two, or one when WGAN-GP's critic_steps leave the generator out
            every_n_epochs=0 if every_n_iterations else None,
            save_last=True,
            # Lightning keeps "the best k" only with a monitor: keep > 1 is done here (_remove_old_periodic)
            save_top_k=keep if keep < 2 else -1,
        )

    @property
    def state_key(self) -> str:
        return self._generate_state_key(every_n_iterations=self.every_n_iterations, every_n_epochs=self._every_n_epochs)

    @property
    def _legacy_state_key(self) -> str:
        # where checkpoints kept this callback's state while Lightning counted the saves in optimizer steps (two per
        # iteration then): runs saved so resume with it (last_model_path, the periodic files it knows)
        return self._generate_state_key(monitor=self.monitor, mode=self.mode,
                                        every_n_train_steps=2 * self.every_n_iterations if self.every_n_iterations else 0,
                                        every_n_epochs=self._every_n_epochs, train_time_interval=self._train_time_interval)

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        every = self.every_n_iterations
        if not every or pl_module.iteration % every or self._should_skip_saving_checkpoint(trainer):
            return
        candidates = self._monitor_candidates(trainer)
        self._save_topk_checkpoint(trainer, candidates)
        self._save_last_checkpoint(trainer, candidates)

    def setup(self, trainer: pl.Trainer, pl_module, stage: str) -> None:
        super().setup(trainer, pl_module, stage)
        if stage == "fit" and trainer.is_global_zero and self.dirpath is not None:
            for path in remove_stale_temporaries(self.dirpath):
                rank_zero_info(f"removed {path}, left by a write that was killed")

    def _find_last_checkpoints(self, trainer: pl.Trainer) -> set[str]:
        # --ckpt_path last takes the newest of these: a periodic checkpoint written just before a
        # crash, with the crash before last.ckpt's update, is newer than last.ckpt
        found = super()._find_last_checkpoints(trainer)
        if self.dirpath is not None and Path(self.dirpath).is_dir():
            found |= {str(path) for path in Path(self.dirpath).glob(f"iter_*{self.FILE_EXTENSION}")}
        return found

    def _save_none_monitor_checkpoint(self, trainer: pl.Trainer, monitor_candidates: dict[str, torch.Tensor]) -> None:
        super()._save_none_monitor_checkpoint(trainer, monitor_candidates)
        if self.keep >= 2 and trainer.is_global_zero:  # one rank deletes: others would stat vanishing files
            self._remove_old_periodic(trainer)

    def _remove_old_periodic(self, trainer: pl.Trainer) -> None:
        """Delete all but the ``keep`` newest-written periodic checkpoints in ``dirpath`` (earlier runs' too)."""
        def written(path: Path) -> tuple[int, str]:
            return path.stat().st_mtime_ns, path.name

        periodic = sorted(Path(self.dirpath).glob(f"{ITERATION_NAME.split('{')[0]}*{self.FILE_EXTENSION}"), key=written)
        for path in periodic[: -self.keep]:
            self._remove_checkpoint(trainer, str(path))

    def _monitor_candidates(self, trainer: pl.Trainer) -> dict[str, torch.Tensor]:
        # what the file name is formatted with: Lightning's values and the iteration
        return {**super()._monitor_candidates(trainer), "iteration": torch.tensor(trainer.lightning_module.iteration)}

    def on_train_end(self, trainer: pl.Trainer, pl_module) -> None:
        super().on_train_end(trainer, pl_module)
        if self.dirpath is not None and not trainer.sanity_checking:
            path = Path(self.dirpath) / f"{self.CHECKPOINT_NAME_LAST}{self.FILE_EXTENSION}"
            trainer.save_checkpoint(path, weights_only=False)
            self.last_model_path = str(path)
