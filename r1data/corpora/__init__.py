"""Corpus modules: each registers its sources, steps, verifiers and annotators.

Importing a corpus module must stay cheap and must not need optional extras: import
pyffish, decord, ffmpeg and the like inside the functions that use them.
"""
