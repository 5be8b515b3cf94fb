"""One module per ``hrgan`` subcommand: its parser, the calls into the library, printing and the exit code.

Each module has ``main(argv) -> int`` and imports torch and Lightning only after
its arguments are parsed, so ``--help`` and argument errors answer at once
(fit and validate excepted: LightningCLI builds their options from the classes).
A new command is a module here and one line in ``COMMANDS``.
"""

# name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "fit": ("hrgan.commands.fit", "train (hrgan fit --config configs/demo.yaml); --ckpt_path last resumes"),
    "validate": ("hrgan.commands.validate", "validate a checkpoint (hrgan validate --config X --ckpt_path CKPT)"),
    "synth": ("hrgan.commands.synth", "write synthetic street scenes (label, instance, photo) at any size"),
    "shards": ("hrgan.commands.shards", "validate paired files and write WebDataset shards with a manifest"),
    "preview": ("hrgan.commands.preview", "a picture of a shard set's samples with a class legend, and the classes' pixel shares"),
    "init-config": ("hrgan.commands.init_config", "write a commented starter config for a shard set (label_nc, size, schedule)"),
    "infer": ("hrgan.commands.infer", "label maps to photos with a trained model, any size (files, folders, globs or shards)"),
    "evaluate": ("hrgan.commands.evaluate", "FID, PSNR/SSIM and segmentation mIoU of a model on held-out data, with a report"),
    "encode-features": ("hrgan.commands.encode_features", "cluster instance features per class into an export's styles"),
    "import-pix2pixhd": ("hrgan.commands.import_pix2pixhd", "turn NVIDIA pix2pixHD generator weights into an hrgan export"),
    "import-spade": ("hrgan.commands.import_spade", "turn NVlabs/SPADE (GauGAN) checkpoints into an hrgan export"),
    "export": ("hrgan.commands.export", "the generator as TorchScript or ONNX"),
    "studio": ("hrgan.commands.studio", "edit label maps in the browser and see the photo (pip install hrgan[studio])"),
    "env": ("hrgan.commands.env", "show versions, devices, and whether pretrained weights are found locally"),
    "selftest": ("hrgan.commands.selftest", "train a tiny model through the real pipeline (checks an install or a GPU node)"),
}
