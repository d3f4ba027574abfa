"""Corpus modules: each registers its sources, steps, verifiers and annotators.

Every subpackage or module here is imported when the registries are first used, so adding a
corpus needs no edit to this file. Importing a corpus module must stay cheap and must not
need optional extras: import pyffish, decord, ffmpeg and the like inside the functions that
use them.
"""

import importlib
import pkgutil

for _info in pkgutil.iter_modules(__path__):
    if not _info.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_info.name}")
