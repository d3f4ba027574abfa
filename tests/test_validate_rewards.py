"""`r1data validate` checks the spec's rewards: a misspelt reward is an error naming file, line, key."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_validate_names_a_misspelt_reward(tmp_path, cli):
    ws = tmp_path / "ws"
    (ws / "pipelines").mkdir(parents=True)
    text = (REPO / "pipelines" / "scene30k.yaml").read_text()
    line = text.splitlines().index(next(ln for ln in text.splitlines() if "scene30k.perception" in ln)) + 1
    (ws / "pipelines" / "scene30k.yaml").write_text(text.replace("scene30k.perception", "scene30k.percepton"))
    r = cli("validate", "scene30k", "--workspace", ws)
    assert r.exit_code == 2
    assert f"scene30k.yaml:{line}: rewards[1]" in r.stderr
    assert "did you mean 'scene30k.perception'" in r.stderr
    assert cli("validate", "scene30k").exit_code == 0
