"""``python -m unipixel_plugin.engine.test CONFIG [CHECKPOINT] [...]``: the same as ``mim test unipixel_plugin``."""
from unipixel_plugin.engine.runner import test

if __name__ == '__main__':
    test()
