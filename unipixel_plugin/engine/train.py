"""``python -m unipixel_plugin.engine.train CONFIG [...]``: the same as ``mim train unipixel_plugin CONFIG``."""
from unipixel_plugin.engine.runner import train

if __name__ == '__main__':
    train()
