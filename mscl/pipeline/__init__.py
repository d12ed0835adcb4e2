"""The stages of the pipeline, one module each, named as in ``dvc.yaml``: ``index``, ``frames``,
``flow``, ``screen``, ``pretrain``, ``finetune``, ``linear``, ``retrieve``; each runs as
``python stages/<name>.py`` (its ``main``). Also what several stages share: the command line,
resumable per-video work and its executors."""
