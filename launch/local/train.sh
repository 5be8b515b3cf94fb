#!/bin/bash
# Single-node training on several GPUs without Slurm. Lightning's DDP starts the other ranks itself
# (it re-runs this hrgan command with LOCAL_RANK set), one per device; gradients sync over NCCL.
#
#   launch/local/train.sh configs/cityscapes_1024x512.yaml                  # every visible GPU
#   HRGAN_DEVICES=4 launch/local/train.sh configs/cityscapes_1024x512.yaml --data.train_urls '...'
#   CUDA_VISIBLE_DEVICES=0,1 launch/local/train.sh CONFIG                   # these two GPUs
#   HRGAN_ACCELERATOR=cpu HRGAN_DEVICES=2 launch/local/train.sh configs/demo.yaml   # 2 CPU processes (gloo)
#
# Re-running the same command resumes from {default_root_dir}/checkpoints/last.ckpt.
set -euo pipefail
config=${1:?usage: launch/local/train.sh CONFIG [hrgan fit overrides...]}
shift
exec hrgan fit --config "$config" --trainer.num_nodes 1 --trainer.devices "${HRGAN_DEVICES:-auto}" \
  --trainer.accelerator "${HRGAN_ACCELERATOR:-gpu}" --trainer.strategy "${HRGAN_STRATEGY:-ddp_find_unused_parameters_true}" \
  --ckpt_path "${HRGAN_CKPT_PATH:-last}" "$@"
