"""Training: the LightningModule, the progressive-growth schedule, callbacks (issue 4)."""
