"""GoT-R1: prompts planned from procedural layouts, reference chains, prompt files, and rewards that
score each completion's own generated image."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from r1data import open_corpus
from r1data.corpora.got.plans import CATEGORIES, sample_plan
from r1data.corpora.got.prompts import parse_prompt
from r1data.parsing import parse_got_plan
from r1data.rewards import load
from r1data.rewards.got_layout import check_plan

REPO = Path(__file__).resolve().parents[1]
SPAN = re.compile(r"<\|obj_start\|>[^<]+<\|obj_end\|> <\|box_start\|>\(\d+,\d+\),\(\d+,\d+\)<\|box_end\|>")


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, list[dict]]:
    from r1data import build

    out = tmp_path_factory.mktemp("got") / "out"
    build("got", out, size=8, progress=False)
    corpus = open_corpus(out)
    return out, [r for split in corpus.splits for r in corpus.table(split).to_pylist()]


def test_rows_pair_a_prompt_with_a_chain_whose_boxes_are_the_pictures(built) -> None:  # type: ignore[no-untyped-def]
    out, rows = built
    assert len(rows) == 8 and {r["category"] for r in rows} == set(CATEGORIES)
    for r in rows:
        plan = parse_got_plan(r["reasoning"])
        assert check_plan(plan, r["prompt_objects"], r["relations"]) == []
        assert len(SPAN.findall(r["reasoning"])) == len(plan) == len(r["layout"]) == len(r["boxes"])
        image = Image.open(io.BytesIO(r["reference_image"]["bytes"]))
        assert image.size == (512, 512) and image.format == "PNG"
        for inst, (x1, y1, x2, y2) in zip(r["layout"], r["boxes"]):
            # the grid box is the measured pixel box on GoT-R1's 0-1000 grid
            assert inst["box"] == [round(x1 / 512 * 1000), round(y1 / 512 * 1000), round(x2 / 512 * 1000),
                                   round(y2 / 512 * 1000)]
        assert sum(g["count"] for g in r["prompt_objects"]) == len(r["layout"])
    assert load("got.layout")(completions=[r["reasoning"] for r in rows],
                              prompt_objects=[r["prompt_objects"] for r in rows],
                              relations=[r["relations"] for r in rows]) == [1.0] * len(rows)
    manifest = json.loads((out / "manifest.json").read_text())
    assert all(v["pass_rate"] == 1.0 for v in manifest["verifiers"].values())


@pytest.mark.parametrize("category", CATEGORIES)
def test_every_caption_reads_back_into_its_plan(category: str) -> None:
    """The prompt parser (used for prompt files) reads the generator's captions back exactly."""
    rng = np.random.default_rng(7)
    for _ in range(60):
        plan = sample_plan(rng, category)
        groups, relations = parse_prompt(plan.caption())
        want_groups, want_relations = plan.records()
        assert [(g["category"], g["color"], g["count"]) for g in groups] == \
            [(g["category"], g["color"], g["count"]) for g in want_groups], plan.caption()
        assert relations == want_relations, plan.caption()


def test_a_chain_that_breaks_the_prompt_fails_the_layout_check() -> None:
    groups = [{"name": "red mug", "category": "mug", "color": "red", "count": 1},
              {"name": "apple", "category": "apple", "color": "", "count": 2}]
    relations = [{"subject": 0, "relation": "left", "object": 1}]
    mug = "<|obj_start|>red mug<|obj_end|> <|box_start|>(100,500),(200,700)<|box_end|>"
    apples = ("<|obj_start|>green apple<|obj_end|> <|box_start|>(400,500),(480,580)<|box_end|> and "
              "<|obj_start|>red apple<|obj_end|> <|box_start|>(600,500),(680,580)<|box_end|>")
    assert check_plan(parse_got_plan(f"A {mug} on the left of two apples ({apples})"), groups, relations) == []
    one_apple = apples.split(" and ")[0]
    assert "the prompt asks for 2" in check_plan(parse_got_plan(f"{mug} {one_apple}"), groups, relations)[0]
    right = mug.replace("(100,500),(200,700)", "(800,500),(900,700)")
    assert "is not on the left of" in check_plan(parse_got_plan(f"{right} {apples}"), groups, relations)[0]
    off = mug.replace("(100,500)", "(100,1200)")
    assert any("off the 0-1000 grid" in p for p in check_plan(parse_got_plan(f"{off} {apples}"), groups, relations))
    assert "has no box" in check_plan(parse_got_plan(apples), groups, relations)[0]
    # "orange book" is a book, not an orange
    books = [{"name": "orange", "category": "orange", "color": "", "count": 1},
             {"name": "book", "category": "book", "color": "", "count": 1}]
    plan = parse_got_plan("<|obj_start|>orange<|obj_end|> <|box_start|>(0,0),(10,10)<|box_end|> "
                          "<|obj_start|>orange book<|obj_end|> <|box_start|>(20,20),(90,90)<|box_end|>")
    assert check_plan(plan, books, []) == []


# -- prompt files ------------------------------------------------------------------------------

def test_t2i_compbench_prompt_files_are_read_and_a_prompt_without_object_is_rejected(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    src = tmp_path / "prompts"
    src.mkdir()
    # lines as T2I-CompBench releases them (examples/dataset/*.txt), plus two that name nothing
    (src / "color_val.txt").write_text("a green bench and a blue bowl\na blue bench and a green bowl\n")
    (src / "spatial_val.txt").write_text("a giraffe next to a lamp\na girl on the top of a frog\n")
    (src / "numeracy_val.txt").write_text("two boys\nthree\n")
    (src / "mine.jsonl").write_text('{"prompt": "a cat behind a boy", "category": "spatial"}\n{"prompt": "!!"}\n')
    out = tmp_path / "out"
    r = cli("build", "got", "--source", "prompts", "--source-dir", src, "-o", out, "--no-progress")
    assert r.exit_code == 0, r.stderr
    corpus = open_corpus(out)
    rows = {r["caption"]: r for split in corpus.splits for r in corpus.table(split).to_pylist()}
    assert set(rows) == {"a green bench and a blue bowl", "a blue bench and a green bowl", "a giraffe next to a lamp",
                         "a girl on the top of a frog", "two boys", "a cat behind a boy"}
    assert rows["two boys"]["category"] == "counting" and rows["a giraffe next to a lamp"]["category"] == "spatial"
    assert rows["a green bench and a blue bowl"]["category"] == "attribute_binding"
    assert rows["a girl on the top of a frog"]["relations"] == [{"subject": 0, "relation": "top", "object": 1}]
    for row in rows.values():
        assert row["reference_image"] is None and row["boxes"] == []
        assert check_plan(parse_got_plan(row["reasoning"]), row["prompt_objects"], row["relations"]) == []
    rejects = corpus.duckdb().sql("SELECT reason, detail FROM rejects ORDER BY detail").fetchall()
    assert rejects == [("no_object", "mine.jsonl:2: no object in the prompt '!!'"),
                       ("no_object", "numeracy_val.txt:2: no object in the prompt 'three'")]


# -- rewards: each completion's own image ------------------------------------------------------

PLAN = ("A <|obj_start|>red mug<|obj_end|> <|box_start|>(100,500),(300,800)<|box_end|> on the left of a "
        "<|obj_start|>blue bowl<|obj_end|> <|box_start|>(550,600),(900,800)<|box_end|>")
HIDDEN = ("A <|obj_start|>red mug<|obj_end|> <|box_start|>(500,500),(700,800)<|box_end|> on the left of a "
          "<|obj_start|>blue bowl<|obj_end|> <|box_start|>(450,550),(900,850)<|box_end|>")
UNKNOWN = "A <|obj_start|>unicorn<|obj_end|> <|box_start|>(100,100),(400,400)<|box_end|>"


def test_the_layout_stand_in_draws_each_completions_own_plan() -> None:
    from r1data.rewards.got_image import generate_images, layout_image

    a, b = layout_image("a red mug", PLAN), layout_image("a red mug", HIDDEN)
    assert a.png != b.png and a.png == layout_image("a red mug", PLAN).png      # deterministic per completion
    assert Image.open(io.BytesIO(a.png)).size == (384, 384)
    assert [name for name, _ in a.drawn] == ["red mug", "blue bowl"] and all(box for _, box in a.drawn)
    region = load("got.region", generator="layout", grounder="layout")
    got = region(prompts=["a red mug on the left of a blue bowl"] * 3, completions=[PLAN, HIDDEN, UNKNOWN])
    assert got[0] > 0.5                      # drawn where planned (the painter's shapes do not fill a box)
    assert got[1] < got[0]                   # the bowl drawn over the mug hides part of it
    assert got[2] == 0.0                     # nothing the painter knows: nothing drawn, nothing grounded
    images = generate_images("layout", ["p", "p"], [PLAN, PLAN])
    assert images[0] is images[1]            # made once, kept for R_PI and R_RI


def test_a_callable_generator_gets_every_completion_and_the_total_uses_its_images() -> None:
    calls: list[tuple[str, str]] = []

    def generator(prompt: str, chain: str) -> bytes:
        calls.append((prompt, chain))
        buf = io.BytesIO()
        Image.new("RGB", (8, 8), (sum(map(ord, chain)) % 256, 0, 0)).save(buf, format="PNG")
        return buf.getvalue()

    seen: list[object] = []

    def grounder(image: bytes, names: list[str]) -> list[list[float]]:
        seen.append(image)
        return [[100, 500, 300, 800], [550, 600, 900, 800]][: len(names)]

    total = load("got.total", judge="rule", generator=generator, grounder=grounder)
    out = total(prompts=None, completions=[PLAN, HIDDEN], caption=["a red mug on the left of a blue bowl"] * 2)
    assert [c for _, c in calls] == [PLAN, HIDDEN] and len(seen) == 2 and seen[0] != seen[1]
    # R_PI 1 (an image) x (R_sem + R_spa 1) x R_RI: the plan's boxes against the grounded ones
    assert out[0] == pytest.approx(1.0 * (1.0 + 1.0) * 1.0, abs=0.35) and out[1] < out[0]
    with pytest.raises(Exception, match="reads only the 'layout' generator's images"):
        load("got.region", generator=generator, grounder="layout")(completions=[PLAN + " "])


def test_a_grounding_profile_finds_the_planned_objects(tmp_path: Path, monkeypatch) -> None:
    from r1data.rewards.got_judge import forget_judges
    from r1data.rewards.judged import counting_unscored
    from tests.servers import OpenAIChatServer

    def answer(prompt: str, n_images: int) -> str:
        assert n_images == 1 and "Objects, in order" in prompt
        if "unicorn" in prompt:
            return '{"boxes": [[10, 10]]}'                      # not a box: unparsable, not 0
        return json.dumps({"boxes": [[100, 500, 300, 800], None]})   # the bowl is not found

    monkeypatch.setenv("R1DATA_TEST_KEY", "sk-test")
    monkeypatch.setenv("R1DATA_CACHE_DIR", str(tmp_path / "cache"))
    with OpenAIChatServer(respond=answer) as server:
        profile = tmp_path / "grounder.yaml"
        profile.write_text(f"provider: openai\nmodel: grounder\nbase_url: {server.url}\napi_key_env: R1DATA_TEST_KEY\n"
                           "max_retries: 0\nparse_retries: 0\ntimeout_s: 5\ntemperature: 0\n")
        region = load("got.region", generator="layout", grounder=str(profile))
        with counting_unscored() as counts:
            got = region(completions=[PLAN, UNKNOWN], caption=["a red mug and a blue bowl", "a unicorn"])
        assert got[0] == pytest.approx(0.5)              # the mug where planned, the bowl not found
        assert got[1] is None and counts["unparsable"] == 1     # no score, with its reason; never a silent 0
        calls = server.calls
        region(completions=[PLAN], caption=["a red mug and a blue bowl"])
        assert server.calls == calls                     # asked again: the answer comes from the cache
    forget_judges()


def test_eval_reports_the_stand_ins_by_name(built, tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    out, rows = built
    preds = tmp_path / "preds.jsonl"
    with preds.open("w") as f:
        for k, r in enumerate(rows):
            f.write(json.dumps({"id": r["id"], "completion": r["reasoning"] if k % 2 == 0 else "I would draw it."}) + "\n")
    r = cli("eval", "got", "--data", out, "--predictions", preds)
    assert r.exit_code == 0, r.stderr
    assert "'rule' judge (offline stand-in" in r.stdout and "'layout' stand-in" in r.stdout
    r = cli("eval", "got", "--data", out, "--predictions", preds, "--json")
    report = json.loads(r.stdout)
    assert report["rewards"]["got.layout"]["mean"] == pytest.approx(0.5)
    assert report["rewards"]["got.region"]["rows"] == len(rows) // 2        # no plan: R_RI does not apply


def test_every_row_renders_in_review_push(built) -> None:  # type: ignore[no-untyped-def]
    from r1data.review.convert import prediction_result
    from r1data.review.layout import config_controls
    from r1data.review.media import Media
    from r1data.review.push import TaskBuilder, corpus_layout

    out, rows = built
    layout = corpus_layout(open_corpus(out))
    assert {("Image", "reference_image"), ("RectangleLabels", "boxes"), ("TextArea", "caption"),
            ("TextArea", "reasoning")} <= config_controls(layout.label_config())
    builder = TaskBuilder(layout, Media("got", out), "v")
    for row in rows:
        task = builder.task(row)
        assert task["data"]["reference_image"].startswith("data:image/png;base64,")
        boxes = [r["value"] for r in prediction_result(row, layout, (512, 512)) if r["from_name"] == "boxes"]
        assert len(boxes) == len(row["boxes"])
        assert boxes[0]["x"] == pytest.approx(100 * row["boxes"][0][0] / 512)


@pytest.mark.slow
def test_rows_are_the_same_whatever_the_workers(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    from tests.toyws import digest

    outs = []
    for workers in (1, 2):
        out = tmp_path / f"w{workers}"
        assert cli("build", "got", "--size", "40", "-o", out, "--workers", str(workers), "--no-progress").exit_code == 0
        outs.append(out)
    assert digest(outs[0]) == digest(outs[1])


@pytest.mark.slow
def test_grpo_scores_each_completion_on_its_own_generated_image(built, tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    import yaml

    from r1data.train.tiny import make_tiny_model

    out, rows = built
    recipe = yaml.safe_load((REPO / "train" / "got.yaml").read_text())
    recipe["sft"]["config"].update(per_device_train_batch_size=2, gradient_accumulation_steps=1, save_steps=1)
    recipe["grpo"]["config"].update(per_device_train_batch_size=2, num_generations=2, gradient_accumulation_steps=1,
                                    max_completion_length=48, save_steps=1)
    recipe["sft"]["rows"] = {"split": "train", "limit": 4}
    recipe["grpo"]["rows"] = {"split": "train", "limit": 2}
    path = tmp_path / "got.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    tiny = make_tiny_model(tmp_path / "tiny", "text", [r["caption"] for r in rows] + [r["reasoning"] for r in rows])
    run = tmp_path / "run"
    r = cli("train", str(out), "--recipe", str(path), "--output", str(run), "--model", str(tiny), "--max-steps", "1")
    assert r.exit_code == 0, r.stderr
    for name in ("got.total", "got.layout", "got.region"):
        assert f"rewards/{name}/mean" in r.stdout
    summary = json.loads((run / "summary.json").read_text())
    assert summary["vision"] is False and summary["stages"]["grpo"]["global_step"] == 1


def test_report_draws_the_picture_and_the_plan(built, tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    from r1data.registry import drawers, load_builtins
    from r1data.report.view import RowView
    from r1data.schema import RecordSchema

    out, rows = built
    r = cli("report", out, "-o", tmp_path / "report.html", "--samples", "4")
    assert r.exit_code == 0, r.stderr
    load_builtins()
    schema = RecordSchema.from_dict(json.loads((out / "manifest.json").read_text())["schema"])
    picture, canvas = drawers.get("got")(RowView(rows[0], schema, out))
    assert (picture.width, picture.height) == (512, 512) and (canvas.width, canvas.height) == (1000, 1000)
    drawn = [s.points for s in picture.shapes if s.kind == "rect"]
    planned = [s.points for s in canvas.shapes if s.kind == "rect"]
    assert len(drawn) == len(planned) == len(rows[0]["layout"])
