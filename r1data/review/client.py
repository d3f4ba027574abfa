"""The Label Studio side: connecting, the project, importing tasks, exporting annotations.

Everything goes through ``label-studio-sdk`` (v2). The token comes from the environment
(``LABEL_STUDIO_API_KEY``: a legacy token or a personal access token, which the SDK refreshes
itself) and is never written anywhere by r1data. Every failure a user can cause is a one-line
:class:`~r1data.errors.R1DataError` that says what to do.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from typing import Any

from r1data.errors import R1DataError, UsageError
from r1data.review.layout import ID_KEY, config_controls

DEFAULT_URL = "http://localhost:8080"
TOKEN_ENV = "LABEL_STUDIO_API_KEY"
URL_ENV = "LABEL_STUDIO_URL"
IMPORT_BATCH = 100


class LabelStudioProject:
    """A Label Studio project, found (or created) by its title."""

    def __init__(self, url: str | None = None, token: str | None = None):
        self.url = (url or os.environ.get(URL_ENV) or DEFAULT_URL).rstrip("/")
        token = token or os.environ.get(TOKEN_ENV)
        if not token:
            raise UsageError(f"no Label Studio token: set {TOKEN_ENV} to your token or personal access "
                             "token (Label Studio: Account & Settings)")
        from label_studio_sdk import LabelStudio

        with self.errors("connecting"):
            self.ls = LabelStudio(base_url=self.url, api_key=token, timeout=60)
        self.id: int | None = None
        self.title = ""

    @contextlib.contextmanager
    def errors(self, doing: str) -> Iterator[None]:
        """Turn client and HTTP failures into one-line errors that say what to do."""
        import httpx
        from label_studio_sdk.core.api_error import ApiError

        try:
            yield
        except (httpx.ConnectError, httpx.ConnectTimeout) as e:
            raise UsageError(f"cannot reach Label Studio at {self.url} ({type(e).__name__}); start one with "
                             f"scripts/label-studio.sh or pass --url / set {URL_ENV}") from None
        except httpx.HTTPError as e:
            raise R1DataError(f"Label Studio at {self.url} failed while {doing}: {type(e).__name__}: {e}") from None
        except ApiError as e:
            detail = _detail(e.body)
            if e.status_code in (401, 403):
                raise UsageError(f"Label Studio at {self.url} rejected the token (HTTP {e.status_code}: {detail}); "
                                 f"set {TOKEN_ENV} to a valid personal access token") from None
            raise R1DataError(f"Label Studio at {self.url} answered HTTP {e.status_code} while {doing}: "
                              f"{detail}") from None

    # -- project ---------------------------------------------------------------------------------
    def find(self, title: str) -> bool:
        """Select the project titled ``title``; ``False`` when there is none."""
        with self.errors("listing projects"):
            for p in self.ls.projects.list(title=title):
                if p.title == title:
                    self.id, self.title = p.id, title
                    return True
        return False

    def open(self, title: str) -> None:
        if not self.find(title):
            raise UsageError(f"no Label Studio project {title!r} at {self.url}; push to it first "
                             "(r1data review push OUT --project NAME)")

    def create_or_update(self, title: str, label_config: str, description: str) -> str:
        """Create the project, or bring its labeling config up to date; says which."""
        if self.find(title):
            with self.errors("reading the project"):
                current = self.ls.projects.get(id=self.id).label_config or ""
            if current.strip() == label_config.strip():
                return "unchanged"
            with self.errors(f"updating the labeling config of {title!r} (Label Studio refuses a "
                             "config that drops labels used by existing annotations)"):
                self.ls.projects.update(id=self.id, label_config=label_config)
            return "config updated"
        with self.errors(f"creating project {title!r}"):
            p = self.ls.projects.create(title=title, label_config=label_config, description=description,
                                        show_collab_predictions=True)
        self.id, self.title = p.id, title
        return "created"

    def check_config(self, label_config: str) -> None:
        """Fail when the project's config lacks a control the corpus schema needs."""
        with self.errors("reading the project"):
            current = self.ls.projects.get(id=self.id).label_config or ""
        missing = config_controls(label_config) - config_controls(current)
        if missing:
            names = ", ".join(f"{tag} {name!r}" for tag, name in sorted(missing))
            raise UsageError(f"project {self.title!r}'s labeling config no longer matches the corpus schema "
                             f"(missing {names}); push again to update it, or use a new --project")

    def attach_local_storage(self, folder: str) -> None:
        """A local-files storage over ``folder`` (needed for /data/local-files/ URLs); never synced."""
        with self.errors("listing local storages"):
            existing = self.ls.import_storage.local.list(project=self.id)
        if any(os.path.abspath(s.path or "") == os.path.abspath(folder) for s in existing):
            return
        with self.errors(f"attaching local storage {folder} (is it under the server's "
                         "LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT?)"):
            self.ls.import_storage.local.create(project=self.id, path=folder, title="r1data media",
                                                regex_filter=r"^$", use_blob_urls=True)

    # -- tasks -------------------------------------------------------------------------------------
    def row_ids(self) -> set[str]:
        """Row ids already in the project (pushing them again is skipped)."""
        ids = set()
        with self.errors("listing tasks"):
            for t in self.ls.tasks.list(project=self.id, page_size=500, include="id,data"):
                rid = (t.data or {}).get(ID_KEY)
                if rid is not None:
                    ids.add(str(rid))
        return ids

    def import_tasks(self, tasks: list[dict]) -> int:
        n = 0
        for i in range(0, len(tasks), IMPORT_BATCH):
            batch = tasks[i:i + IMPORT_BATCH]
            with self.errors("importing tasks"):
                r = self.ls.projects.import_tasks(id=self.id, request=batch, return_task_ids=True)
            n += r.task_count or len(batch)
        return n

    def export(self) -> list[dict]:
        """Every task with its annotations (Label Studio's JSON export)."""
        with self.errors("exporting annotations"):
            raw = b"".join(self.ls.projects.exports.download_sync(id=self.id, export_type="JSON",
                                                                  download_all_tasks=True))
        return json.loads(raw)

    def users(self) -> dict[int, str]:
        """User id -> email (the reviewer column)."""
        with self.errors("listing users"):
            return {u.id: (u.email or u.username or str(u.id)) for u in self.ls.users.list()}


def _detail(body: Any) -> str:
    if isinstance(body, dict):
        for key in ("detail", "validation_errors", "message", "error"):
            if body.get(key):
                text = body[key] if isinstance(body[key], str) else json.dumps(body[key])
                return text.replace("\n", " ")[:300]
    return str(body).replace("\n", " ")[:300]
