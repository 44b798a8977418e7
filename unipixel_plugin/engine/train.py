"""``python -m unipixel_plugin.engine.train CONFIG [...]``: the same as ``mim train unipixel_plugin CONFIG``."""
from unipixel_plugin.runner_cli import train

if __name__ == '__main__':
    train()
