"""Specs cannot reach outside their place: hostile or broken declared files are one line, fast."""

from __future__ import annotations

import resource
import time
from pathlib import Path

import pytest
import yaml

from r1data import open_corpus
from tests.toyws import REPO, make_ws, spec_text

BOMB = "".join([
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n',
    *[f"{n}: &{n} [{','.join(['*' + p] * 9)}]\n" for p, n in zip("abcdefgh", "bcdefghi")],
])


def one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


@pytest.mark.parametrize("where", ["spec", "schema", "profile"])
def test_a_yaml_alias_bomb_is_one_line_in_bounded_time_and_memory(where: str, tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    ws = make_ws(tmp_path / "ws")
    args: list[object] = ["validate", "toy", "--workspace", ws]
    if where == "spec":
        (ws / "pipelines" / "toy.yaml").write_text(BOMB + spec_text())
    elif where == "schema":
        (ws / "schemas" / "toy.yaml").write_text(BOMB + (ws / "schemas" / "toy.yaml").read_text())
    else:
        profile = tmp_path / "bomb-profile.yaml"
        profile.write_text(BOMB + "provider: openai\nmodel: m\n")
        args = ["build", "toy", "--workspace", ws, "--annotator", profile, "-o", tmp_path / "o", "--no-progress"]
        (ws / "pipelines" / "toy.yaml").write_text(spec_text(steps=[
            {"step": "annotate", "profile": "programmatic", "function": "nope"}]))
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.monotonic()
    if where == "profile":
        from r1data.annotators.profile import load_profile
        from r1data.assets import Assets
        from r1data.errors import SpecError

        with pytest.raises(SpecError, match="alias bomb"):
            load_profile(profile, Assets.from_workspace(ws))
    else:
        r = cli(*args)
        assert r.exit_code == 2
        assert "alias bomb" in one_line(r.stderr)
    assert time.monotonic() - t0 < 5
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0 < 200_000    # KB: no gigabytes


def test_a_recursive_alias_non_utf8_and_duplicate_keys_are_one_line(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    ws = make_ws(tmp_path / "ws")
    spec = ws / "pipelines" / "toy.yaml"
    cases = {
        "recursive": ("card: &c {self: *c}\n" + spec_text()).encode(),
        "latin1": spec_text().replace("Toy corpus", "Café corpus").encode("latin-1"),
        "duplicate": (spec_text() + "seed: 8\n").encode(),
    }
    expected = {"recursive": "recursive aliases", "latin1": "UTF-8 text (byte 0xe9 at line 2",
                "duplicate": "seed: duplicate key (also on line 4"}
    for name, data in cases.items():
        spec.write_bytes(data)
        r = cli("validate", "toy", "--workspace", ws)
        assert r.exit_code == 2, name
        assert expected[name] in one_line(r.stderr), r.stderr


def test_names_are_plain_and_cannot_send_the_output_elsewhere(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    ws = make_ws(tmp_path / "ws")
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious.txt").write_text("keep")
    for name in ("../../victim", "a/b", "..", "with space", ".hidden"):
        (ws / "pipelines" / "toy.yaml").write_text(spec_text(name=name))
        r = cli("validate", "toy", "--workspace", ws)
        assert r.exit_code == 2 and "name: expected a plain name" in r.stderr, (name, r.stderr)
        r = cli("build", "toy", "--workspace", ws, "--overwrite", "--no-progress")
        assert r.exit_code == 2
    (ws / "pipelines" / "toy.yaml").write_text(spec_text(sources={"../x": {"reader": "synthetic"}}, source="../x"))
    assert cli("validate", "toy", "--workspace", ws).exit_code == 2
    assert (victim / "precious.txt").read_text() == "keep"


def test_a_row_whose_split_is_not_a_plain_name_is_a_reject(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    ws = make_ws(tmp_path / "ws", size=20, steps=[{"step": "toy_split_from_text"}])
    (ws / "plugins" / "splits.py").write_text(
        "from r1data.steps import step\n\n"
        "@step('toy_split_from_text')\n"
        "def toy_split_from_text(rows, ctx):\n"
        "    for r in rows:\n"
        "        r['split'] = '../../escape' if int(r['id'].split('-')[1]) % 2 else 'train'\n"
        "        yield r\n")
    out = tmp_path / "out"
    r = cli("build", "toy", "--workspace", ws, "-o", out, "--no-progress")
    assert r.exit_code == 0, r.stderr
    c = open_corpus(out)
    assert set(c.splits) == {"train"}
    assert {x["reason"] for x in c.rejects().to_pylist()} == {"invalid_split"}
    assert not (tmp_path / "escape").exists() and not list(tmp_path.glob("*escape*"))


def test_step_parameters_have_ranges_and_validate_reports_every_problem_at_once(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    spec = yaml.safe_load((REPO / "pipelines" / "scene30k.yaml").read_text())
    spec["seed"] = "x"
    spec["bogus"] = 1
    steps = {s["step"]: s for s in spec["steps"]}
    steps["generate_questions"]["per_scene"] = -3
    steps["sample_point_cloud"]["points"] = 0
    steps["split"]["ratios"] = {"train": -0.5, "test": 1.5}
    path = tmp_path / "scene30k_bad.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False).replace("schema: scene30k",
                                                                  f"schema: {REPO / 'schemas/scene30k.yaml'}"))
    r = cli("validate", path)
    assert r.exit_code == 2
    for expected in ("seed: expected an integer", "bogus: unknown key", "per_scene: expected a value greater than 0",
                     "points: expected a value greater than 0", "ratios.train: expected a value greater than or equal to 0"):
        assert expected in r.stderr, (expected, r.stderr)
    assert "and 4 more" in r.stderr
    # a build with the same spec never starts
    r = cli("build", path, "-o", tmp_path / "o", "--no-progress")
    assert r.exit_code == 2 and not (tmp_path / "o").exists()


def test_validate_reports_every_step_that_refuses_its_parameters(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    ws = make_ws(tmp_path / "ws", steps=[{"step": "verify", "verifiers": ["no_such_check"]},
                                         {"step": "filter", "rules": ["no_such_rule"]},
                                         {"step": "split", "ratios": {"train": 0.3}}])
    r = cli("validate", "toy", "--workspace", ws)
    assert r.exit_code == 2
    assert "no_such_check" in r.stderr and "no_such_rule" in r.stderr and "sum to 1" in r.stderr
