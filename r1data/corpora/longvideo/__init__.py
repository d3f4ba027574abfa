"""LongVideo-Reason (LongVILA-R1): four-option reasoning questions about long videos.

The corpus's Python, by role:

* ``script.py``      the event log of a procedural video (objects, events, positions)
* ``render.py``      draws a log to an mp4 with numpy and ffmpeg
* ``video.py``       reading videos with decord: probe, clips, uniform frames; ffmpeg clip files
* ``sources.py``     ``procedural_videos`` (the embedded default) and ``video_folder``
* ``steps.py``       render, probe, cut into clips, caption clips, cache frames, plan questions
* ``questions.py``   captions and questions of four categories derived from a log
* ``frame_stats.py`` captions and questions measured from frames (videos without a log)
* ``qa_format.py``   the generator's QUESTION / OPTIONS / ANSWER / REASONS text, strictly parsed
* ``qa_steps.py``    parse the questions, balance answer letters, format the released columns
* ``annotators.py``  the offline annotators (caption, question, reasoning rewrite)
* ``verifiers.py``   the corpus's verifiers
* ``draw.py``        how ``r1data report`` draws a row: the timeline with the cited intervals, a frame strip

``pipelines/longvideo.yaml`` names these steps in order; ``docs/longvideo.md`` explains them.
Heavy imports (decord) happen inside functions, so listing the corpus stays light.
"""

# Importing the modules registers their sources, steps, annotators and verifiers.
from r1data.corpora.longvideo import annotators, draw, qa_steps, sources, steps, verifiers  # noqa: F401,E402
