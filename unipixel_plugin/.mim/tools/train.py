"""Train UniPixel from an MMEngine config: what ``mim train unipixel_plugin CONFIG`` runs.

    python train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp] [--cfg-options K=V ...] [--launcher pytorch]

Arguments are parsed before anything heavy is imported (mim runs ``train.py -h`` first).
"""
from unipixel_plugin.engine.runner import train

if __name__ == '__main__':
    train()
