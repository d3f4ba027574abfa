"""embodied_points readers over tiny fixtures in the real layouts, good and bad records."""

from __future__ import annotations

import io
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from r1data import open_corpus
from r1data.geometry import png_to_mask, points_in_mask


def _image(path: Path, w: int = 64, h: int = 48, fmt: str = "PNG") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = np.zeros((h, w, 3), dtype=np.uint8)
    arr[..., 0] = np.arange(w, dtype=np.uint8)[None, :] * 3
    arr[10:30, 10:40] = (200, 40, 40)
    Image.fromarray(arr).save(path, format=fmt)


def _truncated_jpeg(path: Path) -> None:
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8)).save(buf, "JPEG")
    path.write_bytes(buf.getvalue()[:300])


def _mask_png(path: Path, w: int, h: int, box: tuple[int, int, int, int]) -> None:
    m = np.zeros((h, w), dtype=np.uint8)
    m[box[1]:box[3], box[0]:box[2]] = 255
    Image.fromarray(m).save(path)


def _rows(out: Path) -> tuple[list[dict], list[dict]]:
    c = open_corpus(out)
    rows = [r for s in c.splits for r in c.table(s).to_pylist()]
    return rows, c.rejects().to_pylist()


def _reasons(rejects: list[dict]) -> dict[str, str]:
    key = "id" if rejects and "id" in rejects[0] else None
    out = {}
    for r in rejects:
        row = json.loads(r["row"]) if isinstance(r.get("row"), str) else r
        out[str(row.get("id") or r.get(key))] = r["reason"]
    return out


@pytest.fixture
def refcoco_dir(tmp_path: Path) -> Path:
    d = tmp_path / "refcoco"
    _image(d / "images" / "COCO_train2014_000000000001.jpg", fmt="JPEG")
    _image(d / "images" / "COCO_train2014_000000000002.png")
    _truncated_jpeg(d / "images" / "COCO_train2014_000000000003.jpg")
    images = [{"id": i, "file_name": f"COCO_train2014_00000000000{i}.{'png' if i == 2 else 'jpg'}",
               "width": 64, "height": 48} for i in (1, 2, 3)]
    rle_wrong = {"size": [40, 64], "counts": [0, 2560]}
    anns = [
        {"id": 10, "image_id": 1, "category_id": 1, "bbox": [10, 10, 30, 20],
         "segmentation": [[10, 10, 40, 10, 40, 30, 10, 30]]},
        {"id": 11, "image_id": 2, "category_id": 1, "bbox": [10, 10, 30, 20],
         "segmentation": {"size": [48, 64], "counts": [10 * 48 + 10] + [20, 28] * 29 + [20, 48 * 64 - 10 * 48 - 10 - 48 * 29 - 20]}},
        {"id": 12, "image_id": 3, "category_id": 1, "bbox": [10, 10, 30, 20],
         "segmentation": [[10, 10, 40, 10, 40, 30, 10, 30]]},
        {"id": 13, "image_id": 1, "category_id": 1, "bbox": [50, 10, 30, 20],      # x2 = 80 > 64
         "segmentation": [[50, 10, 63, 10, 63, 30, 50, 30]]},
        {"id": 14, "image_id": 2, "category_id": 1, "bbox": [10, 10, 30, 20], "segmentation": rle_wrong},
    ]
    coco = {"images": images, "annotations": anns, "categories": [{"id": 1, "name": "mug"}]}
    (d / "instances.json").write_text(json.dumps(coco))
    refs = [{"ref_id": 100 + k, "ann_id": a, "image_id": i, "split": "train", "category_id": 1,
             "sentences": [{"sent": f"red thing {k}", "raw": f"Red thing {k}"}]}
            for k, (a, i) in enumerate([(10, 1), (11, 2), (12, 3), (13, 1), (14, 2)])]
    refs.append({"ref_id": 200, "ann_id": 10, "image_id": 1, "split": "val", "sentences": [{"sent": "val only"}]})
    (d / "refs(unc).p").write_bytes(pickle.dumps(refs, protocol=2))
    return d


def test_refcoco_reader_keeps_good_refs_and_rejects_bad_ones(cli, refcoco_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    res = cli("build", "embodied_points", "--source", "refcoco", "--source-dir", refcoco_dir, "--size", "2",
              "-o", out, "--no-progress")
    assert res.exit_code == 0, res.stderr
    rows, rejects = _rows(out)
    assert {r["instruction"] for r in rows} == {"red thing 0", "red thing 1"}
    for r in rows:
        assert r["ability"] == "REG" and r["data_type"] == "point_rec" and r["target_category"] == "mug"
        mask = png_to_mask(r["target_mask"]["bytes"])
        assert mask.shape == (48, 64) and points_in_mask(r["points"], mask).all()
        assert all(10 <= x < 40 and 10 <= y < 30 for x, y in r["points"])
    jpeg = next(r for r in rows if r["scene_id"] == "coco-1")
    assert jpeg["images"][0]["bytes"][:3] == b"\xff\xd8\xff"          # the source's JPEG kept as is
    reasons = {r["reason"] for r in rejects}
    assert {"corrupt_image", "box_outside_image", "mask_size_mismatch"} <= reasons


def test_refcoco_reads_refs_json_too(cli, refcoco_dir: Path, tmp_path: Path) -> None:
    refs = pickle.loads((refcoco_dir / "refs(unc).p").read_bytes())
    (refcoco_dir / "refs(unc).p").unlink()
    (refcoco_dir / "refs(unc).json").write_text(json.dumps(refs))
    res = cli("build", "embodied_points", "--source", "refcoco", "--source-dir", refcoco_dir, "--size", "1",
              "-o", tmp_path / "o", "--no-progress")
    assert res.exit_code == 0, res.stderr


def test_refcoco_pickle_with_code_is_refused(cli, refcoco_dir: Path, tmp_path: Path) -> None:
    (refcoco_dir / "refs(unc).p").write_bytes(pickle.dumps([Path("x")]))
    res = cli("build", "embodied_points", "--source", "refcoco", "--source-dir", refcoco_dir, "-o", tmp_path / "o")
    assert res.exit_code == 2 and "only plain data" in res.stderr


def test_missing_source_dir_is_a_one_line_usage_error(cli, tmp_path: Path) -> None:
    res = cli("build", "embodied_points", "--source", "part_masks", "--source-dir", tmp_path / "nope",
              "-o", tmp_path / "o")
    assert res.exit_code == 2 and "no such directory" in res.stderr and len(res.stderr.strip().splitlines()) == 1


def test_part_masks_reader(cli, tmp_path: Path) -> None:
    d = tmp_path / "parts"
    _image(d / "img" / "a.png")
    _image(d / "img" / "b.png")
    (d / "masks").mkdir()
    _mask_png(d / "masks" / "a_handle.png", 64, 48, (40, 12, 50, 28))
    _mask_png(d / "masks" / "wrong.png", 32, 32, (2, 2, 10, 10))
    lines = [
        {"id": "ok-mask", "image": "img/a.png", "object": "mug", "part": "handle", "mask": "masks/a_handle.png"},
        {"id": "ok-poly", "image": "img/b.png", "object": "pot", "part": "lid", "instruction": "the lid of the pot",
         "segmentation": [[12, 12], [36, 12], [36, 20], [12, 20]]},
        {"id": "bad-size", "image": "img/a.png", "object": "mug", "part": "handle", "mask": "masks/wrong.png"},
        {"id": "bad-pts", "image": "img/a.png", "object": "mug", "part": "handle",
         "segmentation": [[10, 10], [90, 10], [90, 20]]},
        {"id": "no-img", "image": "img/zzz.png", "object": "mug", "part": "handle", "mask": "masks/a_handle.png"},
    ]
    (d / "annotations.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n{broken\n")
    out = tmp_path / "out"
    res = cli("build", "embodied_points", "--source", "part_masks", "--source-dir", d, "--size", "2",
              "-o", out, "--no-progress")
    assert res.exit_code == 0, res.stderr
    rows, rejects = _rows(out)
    by_id = {r["id"]: r for r in rows}
    assert set(by_id) == {"ok-mask", "ok-poly"}
    assert by_id["ok-mask"]["instruction"] == "the handle of the mug"
    assert all(40 <= x < 50 and 12 <= y < 28 for x, y in by_id["ok-mask"]["points"])
    assert by_id["ok-poly"]["data_type"] == "grounding_rec" and by_id["ok-poly"]["target_part"] == "lid"
    reasons = sorted(r["reason"] for r in rejects)
    assert reasons == sorted(["mask_size_mismatch", "points_outside_image", "missing_image", "bad_json"])
    assert next(r["detail"] for r in rejects if r["reason"] == "bad_json").startswith("annotations.jsonl:6: not JSON")


def test_trajectories_reader(cli, tmp_path: Path) -> None:
    d = tmp_path / "traj"
    _image(d / "a.png")
    _truncated_jpeg(d / "t.jpg")
    (d / "obj.png").parent.mkdir(exist_ok=True)
    _mask_png(d / "obj.png", 64, 48, (8, 30, 16, 40))
    lines = [
        {"id": "ok", "image": "a.png", "instruction": "move the cup to the right", "object": "cup",
         "trajectory": [[10, 35], [20, 20], [40, 15], [55, 30], [58, 38]], "object_mask": "obj.png",
         "target_box": [50, 30, 63, 44]},
        {"id": "outside", "image": "a.png", "instruction": "x", "trajectory": [[10, 35], [70, 20]],
         "object_box": [5, 30, 20, 40], "target_box": [50, 30, 63, 44]},
        {"id": "no-object", "image": "a.png", "instruction": "x", "trajectory": [[10, 35], [60, 40]],
         "target_box": [50, 30, 63, 44]},
        {"id": "truncated", "image": "t.jpg", "instruction": "x", "trajectory": [[10, 35], [60, 40]],
         "object_box": [5, 30, 20, 40], "target_box": [50, 30, 63, 44]},
        {"id": "box-out", "image": "a.png", "instruction": "x", "trajectory": [[10, 35], [60, 40]],
         "object_box": [5, 30, 20, 40], "target_box": [50, 30, 70, 44]},
        {"id": "wrong-end", "image": "a.png", "instruction": "x", "trajectory": [[10, 35], [30, 40]],
         "object_box": [5, 30, 20, 40], "target_box": [50, 30, 63, 44]},
    ]
    (d / "annotations.jsonl").write_text("\n".join(json.dumps(x) for x in lines))
    out = tmp_path / "out"
    res = cli("build", "embodied_points", "--source", "trajectories", "--source-dir", d, "--size", "1",
              "-o", out, "--no-progress")
    assert res.exit_code == 0, res.stderr
    rows, rejects = _rows(out)
    assert [r["id"] for r in rows] == ["ok"]
    r = rows[0]
    assert r["ability"] == "VTG" and len(r["points"]) == 8
    assert r["points"][0] == [10, 35] and r["points"][-1] == [58, 38]
    assert json.loads(r["answer"].split("</type>")[1])["trajectory"] == r["points"]
    reasons = sorted(x["reason"] for x in rejects)
    assert reasons == sorted(["points_outside_image", "bad_annotation", "corrupt_image", "box_outside_image",
                              "embodied_points_trace"])


# -- the refer toolkit's data folder: several datasets and splitBy variants ------------------------

def _refer_data(root: Path) -> Path:
    """``data/`` as lichengunc/refer lays it out: refcoco/ with refs(unc).p and refs(google).p,
    refcocog/ with refs(google).p and refs(umd).p, the COCO images in images/mscoco/images/train2014."""
    images = root / "images" / "mscoco" / "images" / "train2014"
    _image(images / "COCO_train2014_000000000001.jpg", fmt="JPEG")
    coco = {"images": [{"id": 1, "file_name": "COCO_train2014_000000000001.jpg", "width": 64, "height": 48}],
            "annotations": [{"id": 10, "image_id": 1, "category_id": 1, "bbox": [10, 10, 30, 20],
                             "segmentation": [[10, 10, 40, 10, 40, 30, 10, 30]]}],
            "categories": [{"id": 1, "name": "mug"}]}

    def ref(ref_id: int, split: str, sent: str) -> dict:
        return {"ref_id": ref_id, "ann_id": 10, "image_id": 1, "category_id": 1, "split": split,
                "file_name": "COCO_train2014_000000000001_10.jpg", "sent_ids": [ref_id],
                "sentences": [{"tokens": sent.split(), "raw": sent, "sent_id": ref_id, "sent": sent}]}

    variants = {"refcoco": {"unc": ["train", "val", "testA", "testB"], "google": ["train", "val", "test"]},
                "refcocog": {"google": ["train", "val"], "umd": ["train", "val", "test"]}}
    for dataset, by in variants.items():
        (root / dataset).mkdir(parents=True)
        (root / dataset / "instances.json").write_text(json.dumps(coco))
        for split_by, splits in by.items():
            refs = [ref(100 * k + i, s, f"{dataset} {split_by} {s}") for k, s in enumerate(splits) for i in range(1)]
            (root / dataset / f"refs({split_by}).p").write_bytes(pickle.dumps(refs, protocol=2))
    return root


def _instructions(cli, root: Path, out: Path, *params: str) -> set[str]:  # type: ignore[no-untyped-def]
    args = [x for p in params for x in ("--source-param", p)]
    res = cli("build", "embodied_points", "--source", "refcoco", "--source-dir", root, "-o", out,
              "--no-progress", *args)
    assert res.exit_code == 0, res.stderr
    rows, _ = _rows(out)
    return {r["instruction"] for r in rows}


def test_refer_data_folder_dataset_and_split_by(cli, tmp_path: Path) -> None:
    root = _refer_data(tmp_path / "data")
    res = cli("build", "embodied_points", "--source", "refcoco", "--source-dir", root, "-o", tmp_path / "x")
    assert res.exit_code == 2 and "holds refcoco, refcocog; say which with dataset" in res.stderr
    # the toolkit's standard splitBy: unc for RefCOCO, umd for RefCOCOg; images found where it keeps them
    assert _instructions(cli, root, tmp_path / "a", "dataset=refcoco", "split=train") == {"refcoco unc train"}
    assert _instructions(cli, root, tmp_path / "b", "dataset=refcocog", "split=train") == {"refcocog umd train"}
    # the shipped spec reads every split, and each row keeps RefCOCO's own
    out = tmp_path / "all"
    assert len(_instructions(cli, root, out, "dataset=refcoco")) == 4
    assert set(open_corpus(out).splits) == {"train", "validation", "testA", "testB"}
    assert _instructions(cli, root, tmp_path / "c", "dataset=refcoco", "split_by=google", "split=test") == \
        {"refcoco google test"}
    # REFER.getRefIds: testA takes the splits holding an A, test every test split
    assert _instructions(cli, root, tmp_path / "d", "dataset=refcoco", "split=testA") == {"refcoco unc testA"}
    assert _instructions(cli, root, tmp_path / "e", "dataset=refcoco", "split=test") == \
        {"refcoco unc testA", "refcoco unc testB"}
    res = cli("build", "embodied_points", "--source", "refcoco", "--source-dir", root / "refcocog", "-o",
              tmp_path / "f", "--source-param", "split_by=unc")
    assert res.exit_code == 2 and "no refer toolkit refs files for split_by 'unc' (found: google, umd)" in res.stderr


def test_refs_of_an_unnamed_folder_with_two_variants_need_split_by(cli, tmp_path: Path) -> None:
    root = _refer_data(tmp_path / "data")
    (root / "refcoco").rename(root / "mine")
    res = cli("build", "embodied_points", "--source", "refcoco", "--source-dir", root / "mine", "-o", tmp_path / "x")
    assert res.exit_code == 2 and len(res.stderr.strip().splitlines()) == 1
    assert "refs for several splitBy variants (google, unc); say which with split_by" in res.stderr
    assert _instructions(cli, root / "mine", tmp_path / "a", "split_by=unc", "split=val") == {"refcoco unc val"}
