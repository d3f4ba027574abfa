#!/usr/bin/env bash
# Start a local Label Studio (its own venv, SQLite, 127.0.0.1) for `r1data review`;
# prints LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY to export. Install it first with:
#   python3 -m venv ~/.cache/r1data/label-studio-venv && ~/.cache/r1data/label-studio-venv/bin/pip install label-studio
set -euo pipefail
exec python -m r1data.review.server "$@"
