"""Evaluation metrics (FID, PSNR/SSIM, segmentation consistency) and their reports."""
