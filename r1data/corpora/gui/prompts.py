"""The prompts InfiGUI-R1's AndroidControl evaluation builds (``android_control.py`` ``generate_jobs``).

System: the thinking-mode instruction (reason in ``<think>``, state the step's sub-goal in
``<step>``), then Qwen2.5-VL's function-calling block declaring one tool, ``mobile_use``, whose
description gives the screen's resolution as the *resized* frame. User: the goal, the current
step's instruction (low level only) and the task progress, each earlier action JSON-dumped.
The tool's schema below is written out from that file's description of it; the texts are the
model's interface, so they are kept word for word.
"""

from __future__ import annotations

import json

THINKING = ("You FIRST think about the reasoning process as an internal monologue and then provide the final "
            "answer.\nThe reasoning process MUST BE enclosed within <think> </think> tags.\nDuring the reasoning "
            "process, identify and state the sub-goal of the current step by enclosing it within <step> </step> tags.")

_ACTIONS_HELP = (
    "The action to perform. The available actions are:\n"
    "* `key`: Perform a key event on the mobile device.\n    - This supports adb's `keyevent` syntax.\n"
    "    - Examples: \"volume_up\", \"volume_down\", \"power\", \"camera\", \"clear\".\n"
    "* `click`: Click the point on the screen with coordinate (x, y).\n"
    "* `long_press`: Press the point on the screen with coordinate (x, y) for specified seconds.\n"
    "* `swipe`: Swipe from the starting point with coordinate (x, y) to the end point with coordinates2 (x2, y2).\n"
    "* `type`: Input the specified text into the activated input box.\n"
    "* `system_button`: Press the system button.\n"
    "* `open`: Open an app on the device.\n"
    "* `wait`: Wait specified seconds for the change to happen.\n"
    "* `terminate`: Terminate the current task and report its completion status.")
_POINT_HELP = ("(x, y): The x (pixels from the left edge) and y (pixels from the top edge) coordinates to move the "
               "mouse to. Required only by `action=click`, `action=long_press`, and `action=swipe`.")


def tool(width: int, height: int) -> dict:
    """The ``mobile_use`` function for a ``width`` x ``height`` (resized) screen."""
    description = (
        "Use a touchscreen to interact with a mobile device, and take screenshots.\n"
        "* This is an interface to a mobile device with touchscreen. You can perform actions like clicking, "
        "typing, swiping, etc.\n"
        "* Some applications may take time to start or process actions, so you may need to wait and take "
        "successive screenshots to see the results of your actions.\n"
        f"* The screen's resolution is {width}x{height}.\n"
        "* Make sure to click any buttons, links, icons, etc with the cursor tip in the center of the element. "
        "Don't click boxes on their edges unless asked.")
    properties = {
        "action": {"description": _ACTIONS_HELP,
                   "enum": ["key", "click", "long_press", "swipe", "type", "system_button", "open", "wait",
                            "terminate"], "type": "string"},
        "coordinate": {"description": _POINT_HELP, "type": "array"},
        "coordinate2": {"description": _POINT_HELP.replace("`action=click`, `action=long_press`, and `action=swipe`",
                                                           "`action=swipe`"), "type": "array"},
        "text": {"description": "Required only by `action=key`, `action=type`, and `action=open`.", "type": "string"},
        "time": {"description": "The seconds to wait. Required only by `action=long_press` and `action=wait`.",
                 "type": "number"},
        "button": {"description": "Back means returning to the previous interface, Home means returning to the "
                                  "desktop, Menu means opening the application background menu, and Enter means "
                                  "pressing the enter. Required only by `action=system_button`",
                   "enum": ["Back", "Home", "Menu", "Enter"], "type": "string"},
        "status": {"description": "The status of the task. Required only by `action=terminate`.", "type": "string",
                   "enum": ["success", "failure"]},
    }
    return {"type": "function", "function": {"name": "mobile_use", "description": description,
                                             "parameters": {"properties": properties, "required": ["action"],
                                                            "type": "object"}}}


def system_prompt(width: int, height: int, thinking: bool = True) -> str:
    """The system message for a screen resized to ``width`` x ``height``."""
    head = THINKING if thinking else "You are a helpful assistant."
    return (head + "\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
            "You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n"
            + json.dumps(tool(width, height)) + "\n</tools>\n\nFor each function call, return a json object with "
            "function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n"
            '{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>')


def user_message(goal: str, step_instruction: str | None, history: list[str]) -> str:
    """The user turn: low level with ``step_instruction``, high level without (None). The image
    follows the text in the evaluation (``... + '<image>'``); TRL rows put it in its own block."""
    progress = "".join(f"Step {n + 1}: {h}; " for n, h in enumerate(history))
    if step_instruction is None:
        return (f"The user query:  {goal}\nTask progress (You have done the following operation on the current "
                f"device): {progress}")
    return (f"The user query:  {goal}\nCurrent step query: {step_instruction}\nTask progress (You have done the "
            f"following operation on the current device): {progress}")
