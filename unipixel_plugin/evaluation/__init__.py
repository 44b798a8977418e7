"""Evaluation: UniPixel in lmms-eval (:mod:`.lmms`) and the metrics shared by the lmms-eval tasks, the MMEngine
evaluators and the CLI (:mod:`.metrics`). Importing this package is light."""
