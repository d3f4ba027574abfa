"""Stand-in model servers on 127.0.0.1 for tests and benchmarks (stdlib only).

``OpenAIChatServer`` speaks the OpenAI chat-completions API, ``GeminiServer`` the Gemini
``generateContent`` API; both take ``latency_s``, injected ``faults`` and a ``respond``
function, and count calls. ``python -m tests.servers openai|gemini`` runs one in the
foreground (it prints its URL), for benchmarks that want the server in another process.
"""

from tests.servers.base import FAULTS, ModelServer, Seen, count_tokens, default_respond  # noqa: F401
from tests.servers.gemini import GeminiServer  # noqa: F401
from tests.servers.openai_chat import OpenAIChatServer  # noqa: F401

SERVERS = {"openai": OpenAIChatServer, "gemini": GeminiServer}
