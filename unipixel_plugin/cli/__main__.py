"""``python -m unipixel_plugin.cli ...``: the same as the ``unipixel`` command."""
import sys

from unipixel_plugin.cli import main

sys.exit(main())
