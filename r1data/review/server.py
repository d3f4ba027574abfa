"""Run a local Label Studio server (for ``scripts/label-studio.sh`` and the tests).

Label Studio pins ``openai<2``, ``pyarrow<25`` and ``pytz<2023``, so it cannot live in
r1data's environment: it gets its own virtual environment, by default
``~/.cache/r1data/label-studio-venv`` (``R1DATA_LABEL_STUDIO`` may name the ``label-studio``
executable instead). Install it with::

    python3 -m venv ~/.cache/r1data/label-studio-venv
    ~/.cache/r1data/label-studio-venv/bin/pip install label-studio

The server binds 127.0.0.1 only, keeps its SQLite database in ``data_dir``, has signup and
analytics off, and serves local files from ``media_root`` (``r1data review push --media-root``).
The API token is printed, never written to disk by r1data.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from r1data.errors import R1DataError, UsageError

ADMIN_EMAIL = "admin@r1data.local"


def default_venv() -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "r1data" / "label-studio-venv"


def find_label_studio() -> Path | None:
    """The ``label-studio`` executable: ``$R1DATA_LABEL_STUDIO``, the default venv, or PATH."""
    env = os.environ.get("R1DATA_LABEL_STUDIO")
    if env:
        return Path(env) if Path(env).exists() else None
    candidate = default_venv() / "bin" / "label-studio"
    if candidate.exists():
        return candidate
    found = shutil.which("label-studio")
    return Path(found) if found else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalLabelStudio:
    """A ``label-studio start`` child process on 127.0.0.1.

    On a fresh ``data_dir`` the admin user is created with ``token`` as its legacy API token
    and legacy tokens enabled for the organisation (Label Studio 1.23 disables them by default);
    on an existing one use :func:`personal_access_token` with the admin's password.
    """

    def __init__(self, data_dir: str | Path, *, port: int | None = None, media_root: str | Path | None = None,
                 password: str | None = None, token: str | None = None, binary: Path | None = None):
        self.binary = binary or find_label_studio()
        if self.binary is None:
            raise UsageError("no label-studio executable found (install it in its own venv: "
                             f"python3 -m venv {default_venv()} && {default_venv()}/bin/pip install label-studio, "
                             "or set R1DATA_LABEL_STUDIO)")
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.media_root = Path(media_root) if media_root else self.data_dir / "media"
        self.password = password or secrets.token_urlsafe(12)
        self.token = token or secrets.token_hex(20)
        self.fresh = not (self.data_dir / "label_studio.sqlite3").exists()
        self.proc: subprocess.Popen | None = None
        self.log_path = self.data_dir / "label-studio.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LABEL_STUDIO_", "VIRTUAL_ENV"))}
        env.update({
            "LABEL_STUDIO_BASE_DATA_DIR": str(self.data_dir),
            "LABEL_STUDIO_USERNAME": ADMIN_EMAIL,
            "LABEL_STUDIO_PASSWORD": self.password,
            "LABEL_STUDIO_USER_TOKEN": self.token,
            "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true",
            "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK": "true",
            "LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED": "true",
            "LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT": str(self.media_root),
            "LATEST_VERSION_CHECK": "false", "COLLECT_ANALYTICS": "false",
            "SENTRY_DSN": "", "FRONTEND_SENTRY_DSN": "",
        })
        return env

    def start(self, timeout: float = 180.0) -> "LocalLabelStudio":
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.media_root.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [str(self.binary), "start", "--no-browser", "--internal-host", "127.0.0.1", "--port", str(self.port)],
            env=self.environment(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)   # its own process group: stop() ends it and its children
        log.close()
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                tail = self.log_path.read_text(errors="replace")[-2000:]
                raise R1DataError(f"label-studio exited with code {self.proc.returncode}; log tail:\n{tail}")
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=2) as r:
                    if r.status == 200 and b"UP" in r.read():
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.5)
        self.stop()
        raise R1DataError(f"label-studio did not answer on {self.url}/health within {timeout:.0f} s "
                          f"(log: {self.log_path})")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)

    def __enter__(self) -> "LocalLabelStudio":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def personal_access_token(url: str, email: str, password: str) -> str:
    """Log in with email and password and create (or rotate) a personal access token."""
    import requests

    s = requests.Session()
    r = s.get(f"{url}/user/login/", timeout=10)
    csrf = s.cookies.get("csrftoken")
    if not csrf:
        m = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', r.text)
        csrf = m.group(1) if m else ""
    r = s.post(f"{url}/user/login/", data={"email": email, "password": password, "csrfmiddlewaretoken": csrf},
               headers={"Referer": f"{url}/user/login/"}, allow_redirects=False, timeout=10)
    if r.status_code not in (302, 303):
        raise R1DataError(f"could not log in to {url} as {email} (HTTP {r.status_code}); check the password")
    headers = {"X-CSRFToken": s.cookies.get("csrftoken") or csrf, "Referer": url + "/"}
    r = s.post(f"{url}/api/token/", headers=headers, timeout=10)
    if r.status_code == 409 or (r.status_code >= 400 and "exist" in r.text.lower()):
        r = s.post(f"{url}/api/token/rotate/", headers=headers, timeout=10)
    r.raise_for_status()
    data = r.json()
    return data.get("token") or data["refresh"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m r1data.review.server",
                                description="Start a local Label Studio on 127.0.0.1 and print the URL and token.")
    p.add_argument("--data-dir", default=str(Path.home() / ".local/share/r1data/label-studio"),
                   help="SQLite database and uploads (kept between runs)")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--media-root", help="folder served as local files (default DATA_DIR/media)")
    args = p.parse_args(argv)
    password = os.environ.get("R1DATA_LABEL_STUDIO_PASSWORD")
    server = LocalLabelStudio(args.data_dir, port=args.port, media_root=args.media_root,
                              password=password)
    if not server.fresh and not password:
        print("error: this data dir has an admin already; set R1DATA_LABEL_STUDIO_PASSWORD to its password",
              file=sys.stderr)
        return 2
    print(f"starting Label Studio ({server.binary}) ...", file=sys.stderr)
    try:
        server.start()
        token = server.token if server.fresh else personal_access_token(server.url, ADMIN_EMAIL, server.password)
    except R1DataError as e:
        print(f"error: {e.message}", file=sys.stderr)
        server.stop()
        return 1
    print(f"export LABEL_STUDIO_URL={server.url}")
    print(f"export LABEL_STUDIO_API_KEY={token}")
    print(f"# log in as {ADMIN_EMAIL}" + ("" if password else f" / {server.password}") +
          f"; media root {server.media_root} (r1data review push --media-root {server.media_root})",
          file=sys.stderr)
    try:
        server.proc.wait()  # type: ignore[union-attr]
    except KeyboardInterrupt:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
