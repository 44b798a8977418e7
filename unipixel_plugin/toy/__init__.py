"""Toy UniPixel models and data for offline work: tests, the CLI's default model, benchmarks and the tiny configs.

* :mod:`.checkpoint`: the one tiny-checkpoint factory (:func:`make_tiny_checkpoint`, official-layout folders);
* :mod:`.cache`: the one cache folder they are made in, once (``$UNIPIXEL_TOY_ROOT``);
* :mod:`.refvos`: procedural referring-video data in MeViS' layout and its reader (``ToyRefVOSDataset``).

Importing this package is light; the submodules import the model and data code they need.
"""
