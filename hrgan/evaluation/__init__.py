"""Evaluation metrics (FID, PSNR/SSIM, segmentation consistency), their reports, and the fidelity report."""
