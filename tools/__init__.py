"""Developer tools, run as scripts (``python tools/build_notebooks.py``); the tests import them as ``tools.*``."""
