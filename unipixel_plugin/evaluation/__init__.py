"""Evaluation: the lmms-eval model adapter (and, later, metrics shared by lmms-eval tasks and MMEngine)."""
