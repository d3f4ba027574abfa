"""A small Hugging Face Hub stand-in on 127.0.0.1 that records what ``huggingface_hub`` sends.

It speaks the parts of the Hub's HTTP API that an upload uses: repo creation, branch creation,
the pre-upload check (parquet files are declared LFS, the rest regular), the Git LFS batch API
with the "basic" transfer (a PUT per object), and the NDJSON commit endpoint. Files land in
``repos[repo_id][revision][path] = bytes`` so tests can read back exactly what was uploaded.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Request:
    method: str
    path: str
    auth: str


@dataclass
class HubState:
    requests: list[Request] = field(default_factory=list)
    repos: dict[str, dict[str, dict[str, bytes]]] = field(default_factory=dict)
    private: dict[str, bool] = field(default_factory=dict)
    commits: list[dict[str, Any]] = field(default_factory=list)
    lfs: dict[str, bytes] = field(default_factory=dict)
    validated: list[Any] = field(default_factory=list)     # card metadata sent to /api/validate-yaml
    lock: threading.Lock = field(default_factory=threading.Lock)


class FakeHub:
    def __init__(self) -> None:
        self.state = HubState()
        state = self.state
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _body(self) -> bytes:
                n = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(n) if n else b""

            def _json(self, status: int, obj: Any) -> None:
                data = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _record(self) -> None:
                with state.lock:
                    state.requests.append(Request(self.command, self.path, self.headers.get("Authorization", "")))

            def do_GET(self) -> None:  # noqa: N802
                self._record()
                self._json(404, {"error": f"not found: {self.path}"})

            def do_PUT(self) -> None:  # noqa: N802
                self._record()
                body = self._body()
                if self.path.startswith("/lfs-upload/"):
                    oid = self.path.rsplit("/", 1)[1]
                    if hashlib.sha256(body).hexdigest() != oid:
                        return self._json(400, {"error": "oid mismatch"})
                    with state.lock:
                        state.lfs[oid] = body
                    return self._json(200, {})
                self._json(404, {"error": f"not found: {self.path}"})

            def do_POST(self) -> None:  # noqa: N802
                self._record()
                body = self._body()
                parts = self.path.split("?")[0].strip("/").split("/")
                if self.path.startswith("/api/repos/create"):
                    req = json.loads(body)
                    repo = f"{req.get('organization') or 'user'}/{req['name']}"
                    with state.lock:
                        state.repos.setdefault(repo, {"main": {}})
                        state.private.setdefault(repo, bool(req.get("private")) or req.get("visibility") == "private")
                    return self._json(200, {"url": f"{hub.root}/datasets/{repo}", "name": repo})
                if self.path.startswith("/api/validate-yaml"):
                    req = json.loads(body)
                    import yaml
                    try:
                        text = req["content"]
                        if not text.startswith("---\n"):
                            return self._json(400, {"error": "README.md has no YAML front matter"})
                        meta = yaml.safe_load(text[4:].split("\n---\n", 1)[0])
                    except yaml.YAMLError as e:
                        return self._json(400, {"error": f"invalid YAML: {e}"})
                    with state.lock:
                        state.validated.append(meta)
                    return self._json(200, {"errors": [], "warnings": []})
                if parts[:2] == ["api", "datasets"] and len(parts) >= 6:
                    repo, action, rev = f"{parts[2]}/{parts[3]}", parts[4], "/".join(parts[5:])
                    from urllib.parse import unquote
                    rev = unquote(rev)
                    if action == "branch":
                        with state.lock:
                            state.repos.setdefault(repo, {"main": {}}).setdefault(rev, dict(state.repos[repo]["main"]))
                        return self._json(200, {})
                    if action == "preupload":
                        files = json.loads(body)["files"]
                        return self._json(200, {"files": [
                            {"path": f["path"], "uploadMode": "lfs" if f["path"].endswith(".parquet") else "regular",
                             "shouldIgnore": False, "oid": None} for f in files]})
                    if action == "commit":
                        return self._commit(repo, rev, body)
                if len(parts) >= 5 and parts[0] == "datasets" and parts[-3:] == ["info", "lfs", "objects"] or \
                        self.path.endswith("/info/lfs/objects/batch"):
                    req = json.loads(body)
                    return self._json(200, {"transfer": "basic", "objects": [
                        {"oid": o["oid"], "size": o["size"], "authenticated": True,
                         "actions": {"upload": {"href": f"{hub.root}/lfs-upload/{o['oid']}"}}}
                        for o in req["objects"]]})
                self._json(404, {"error": f"not found: {self.path}"})

            def _commit(self, repo: str, rev: str, body: bytes) -> None:
                lines = [json.loads(line) for line in body.decode().splitlines() if line.strip()]
                header = next(x["value"] for x in lines if x["key"] == "header")
                files: dict[str, bytes] = {}
                for x in lines:
                    v = x["value"]
                    if x["key"] == "file":
                        files[v["path"]] = base64.b64decode(v["content"])
                    elif x["key"] == "lfsFile":
                        with state.lock:
                            data = state.lfs.get(v["oid"])
                        if data is None:
                            return self._json(400, {"error": f"LFS object {v['oid']} was never uploaded"})
                        files[v["path"]] = data
                with state.lock:
                    if repo not in state.repos or rev not in state.repos[repo]:
                        return self._json(404, {"error": f"{repo}@{rev} does not exist"})
                    state.repos[repo][rev].update(files)
                    oid = hashlib.sha1(f"{len(state.commits)}{header['summary']}".encode()).hexdigest()
                    state.commits.append({"repo": repo, "revision": rev, "summary": header["summary"],
                                          "files": sorted(files), "oid": oid})
                self._json(200, {"success": True, "commitOid": oid,
                                 "commitUrl": f"{hub.root}/datasets/{repo}/commit/{oid}"})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> "FakeHub":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
