"""UniPixel in lmms-eval: the model adapter (:mod:`.adapter`, ``--model unipixel``) and its entry point
(:mod:`.entry`, group ``lmms_eval.models``). Importing this package is light: lmms-eval reads the entry point at
start-up."""
