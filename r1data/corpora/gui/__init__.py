"""GUI agent trajectories with reasoning, after InfiGUI-R1 (``r1data build gui``).

The corpus's Python, by role:

* ``ui.py``           an app as data (screens, elements, dialogs), devices, themes, the page
                      (``web/``: the HTML template, the style and the app runtime)
* ``apps_system.py``, ``apps_everyday.py``  six kinds of apps (settings, files, clock,
                      shopping list, forms, messaging) and their tasks
* ``plans.py``        tasks and steps (instruction, sub-goal, expected effect)
* ``browser.py``      headless Chromium through Playwright, one per process
* ``actions.py``      an action in InfiGUI-R1's ``mobile_use`` space: history, ground truth, call
* ``prompts.py``      the system and user prompts of InfiGUI-R1's evaluation
* ``episodes.py``     the ``gui_apps`` source and the ``gui_episodes`` step (play, check, record)
* ``rows.py``         rows: low / high level steps, error recovery, grounding
* ``readers.py``      real sources: AndroidControl (TFRecords), InfiGUI-R1's AndroidControl JSON,
                      ScreenSpot / ScreenSpot-v2 (``tfrecord.py`` reads the TFRecord files)
* ``reasoning.py``    the offline annotator (reasoning from the DOM) and a VLM reply's parser
* ``verifiers.py``    the corpus's verifiers
* ``draw.py``         how ``r1data report`` draws a row (target, action, the completion's call, the screen after)

``pipelines/gui.yaml`` names these steps in order; docs/gui.md explains.
"""

from r1data.corpora.gui import draw, episodes, reasoning, readers, verifiers  # noqa: F401
