"""The shipped specs: listed, valid, and their rewards checked (a misspelt reward names file, line, key)."""

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


SHIPPED = ["earthreason", "embodied_points", "embodied_spatial", "got", "gui", "longvideo", "love", "omni",
           "scene30k", "trance", "vqa_verify", "xiangqi"]


def test_every_shipped_corpus_is_listed_on_one_short_line_and_validates(cli):
    listed = cli("list")
    assert listed.exit_code == 0
    lines = listed.stdout.splitlines()
    assert [line.split()[0] for line in lines] == SHIPPED
    assert all(len(line) <= 160 for line in lines)
    for name in SHIPPED:
        r = cli("validate", name)
        assert r.exit_code == 0, (name, r.stderr)
        assert r.stdout.startswith(f"ok: ") and f"{name}.yaml" in r.stdout


def test_every_shipped_spec_declares_what_its_hub_card_needs():
    import yaml

    for name in SHIPPED:
        spec = yaml.safe_load((REPO / "pipelines" / f"{name}.yaml").read_text())
        card = spec.get("card") or {}
        assert card.get("task_categories"), name
        assert card.get("source_datasets"), name
        assert "arXiv" in card.get("citation", ""), name
