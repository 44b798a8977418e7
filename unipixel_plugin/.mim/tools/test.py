"""Test UniPixel with an MMEngine config and a checkpoint: what ``mim test unipixel_plugin CONFIG -C CKPT`` runs.

    python test.py CONFIG [CHECKPOINT] [--out predictions.pkl] [--work-dir DIR] [--cfg-options K=V ...]
"""
from unipixel_plugin.engine.runner import test

if __name__ == '__main__':
    test()
