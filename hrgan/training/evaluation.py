"""The evaluation metrics during training: FID, PSNR/SSIM and segmenter mIoU on a fixed validation subset."""

from __future__ import annotations

import math
from pathlib import Path

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback
from pytorch_lightning.utilities import rank_zero_info

from hrgan.data.stream import ShardStream
from hrgan.evaluation.metrics import EvaluationMetrics, load_segmenter, parse_metrics
from hrgan.evaluation.report import summary_line
from hrgan.training.callbacks import augmented_batches


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
        datamodule = trainer.datamodule
        urls = self.urls or (datamodule.val_urls if datamodule is not None else None)
        if urls is None or self._networks is None:
            return None
        metrics = self._metrics(pl_module)
        self._done_at = pl_module.iteration
        share = math.ceil(self.num_samples / trainer.world_size)
        stream = ShardStream(urls, batch_size=self.batch_size, train=False, rank=trainer.global_rank,
                             world_size=trainer.world_size, load_size=datamodule.load_size, image_dtype="uint8")
        generator = pl_module.generator_ema or pl_module.generator
        growth = pl_module.current_growth()
        metrics.reset()
        taken = 0
        for batch in augmented_batches(stream, datamodule, pl_module.device):
            if taken >= share:
                break
            batch = {k: v[: share - taken] for k, v in batch.items() if k != "skipped"}
            fake = pl_module.generate(generator, pl_module.condition(batch), pl_module.instance_features(batch), growth)
            metrics.update(fake, batch["image"], batch["label"], list(batch["key"]))
            taken += len(batch["key"])
        result = metrics.compute()
        self.last = result
        logged = {f"eval/{k}": float(result[k]) for k in ("fid", "psnr", "ssim", "miou", "pixel_accuracy") if k in result}
        if "segmentation" in result:
            logged["eval/miou_real"] = result["segmentation"]["real"]["miou"]
        if trainer.is_global_zero:
            for logger in trainer.loggers:
                logger.log_metrics(logged, step=trainer.global_step)
            rank_zero_info(f"evaluation at iteration {pl_module.iteration}: {summary_line(result)}")
        return result
