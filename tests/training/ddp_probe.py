"""A callback for the DDP test: each rank writes its parameters' digest, the sample keys it trained on and the learning rates per stage."""

import json
from pathlib import Path

import torch
from pytorch_lightning.callbacks import Callback


class Probe(Callback):
    def __init__(self):
        self.keys = []
        self.lrs = {}

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if not pl_module.progress.end_epoch:
            self.keys += list(batch["key"])

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        rates = [group["lr"] for opt in pl_module.optimizers(use_pl_optimizer=False) for group in opt.param_groups]
        self.lrs.setdefault(pl_module.current_growth().stage, set()).add(tuple(rates))

    def on_train_end(self, trainer, pl_module):
        digest = {name: [float(p.double().sum()), float(p.double().abs().sum())]
                  for name, p in pl_module.state_dict().items() if torch.is_floating_point(p)}
        report = {"rank": trainer.global_rank, "world_size": trainer.world_size, "keys": self.keys, "digest": digest,
                  "iteration": pl_module.iteration,
                  "sync_batchnorm": sum(isinstance(m, torch.nn.SyncBatchNorm) for m in pl_module.modules()),
                  "lrs": {stage: sorted(rates) for stage, rates in self.lrs.items()}}
        path = Path(trainer.default_root_dir) / f"probe_rank{trainer.global_rank}.json"
        path.write_text(json.dumps(report))
