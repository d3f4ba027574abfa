"""Speed of the rule-based rewards and of the batched mask IoU.

    python scripts/bench_rewards.py [--batch 1024] [--repeat 5] [--masks 64] [--mask-size 1024]

1. Every rule-based reward on a batch of ``--batch`` completions (GRPO-shaped: groups of 8
   completions sharing one prompt's columns, a mix of right, wrong and malformed answers):
   milliseconds per batch, rewards/s, and the time as a ratio of the 50 ms budget (< 1 is under).
2. ``xiangqi.good`` with the engine oracle on ``--batch`` completions over ``--positions``
   positions whose moves the rows did not score: the first call searches each (the uncached
   cost, ms per move), the next ones find them cached (ms per batch against the budget).
3. ``geometry.mask_iou_batch`` on ``--masks`` pairs of ``--mask-size``^2 masks against a plain
   numpy loop (one ``count_nonzero(p & g)``, ``count_nonzero(p | g)`` per pair), as a speed-up ratio.

The rewards that run a model (semantic similarity) or a judge (GoT-R1's judged terms) are left out.
In (1) ``xiangqi.good`` and ``xiangqi.total`` ask the engine about 4 moves once (then cached).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections.abc import Callable

import numpy as np

from r1data import rewards
from r1data.geometry import mask_iou_batch, mask_to_png, rle_encode

BUDGET_MS = 50.0
GROUP = 8


def _ta(answer: str) -> str:
    return f"<think>First I look at the question. Then I check each option. Finally I answer.</think><answer>{answer}</answer>"


def family_rows(family: str, rng: np.random.Generator) -> tuple[Callable[[int], str], dict]:
    """A completion maker (by variant 0..7) and one prompt's columns, for one reward family."""
    if family in ("scene30k",):
        box = rng.uniform(0, 3, 3)
        gt = [*box, *(box + rng.uniform(0.2, 1.0, 3))]
        cols = {"target_box": gt if rng.random() < 0.5 else None, "answer": "chair", "answers": ["chair"]}
        return (lambda v: _ta(f"box: [{', '.join(f'{x + 0.05 * v:.2f}' for x in gt)}]") if v < 6 else "<answer>chair"), cols
    if family == "satori":
        w, h = int(rng.integers(300, 1200)), int(rng.integers(300, 1200))
        boxes = [[10, 20, 200, 220], [150, 100, 280, 290]]
        cols = {"image_caption": "a brown dog sits on a red mat next to a white cat in a sunny kitchen",
                "bboxs": boxes, "width": w, "height": h, "possible_answers": ["dog", "a dog"]}
        return (lambda v: f"<caption>a dog on a mat {'in a kitchen' * (v % 3)}</caption>"
                f"<bbox>{json.dumps(boxes[: 1 + v % 2])}</bbox><answer>{'dog' if v % 2 else 'cat'}</answer>"), cols
    if family == "embodied":
        kind = ["point_ref", "fsd_visual_trace", "point_rec", "spatial_qa"][int(rng.integers(4))]
        trace = [[10 * i, 5 * i] for i in range(8)]
        answer = {"point_ref": "<type>point_ref</type>[[100, 120], [130, 90]]",
                  "fsd_visual_trace": "<type>fsd_visual_trace</type>" + json.dumps({"trajectory": trace}),
                  "point_rec": "<type>point_rec</type>" + json.dumps({"segmentation": [[0, 0], [90, 0], [90, 90], [0, 90]]}),
                  "spatial_qa": "<type>spatial_qa</type>(B)"}[kind]
        if kind == "spatial_qa":
            return (lambda v: _ta("(B)" if v % 2 else "(C)")), {"answer": answer, "data_type": kind}
        return (lambda v: _ta(f"<point>{json.dumps([[x + v, y] for x, y in trace[: 8 - v % 2]])}</point>")), \
            {"answer": answer, "data_type": kind}
    if family in ("longvideo", "format"):
        return (lambda v: _ta("ABCD"[v % 4]) if v < 7 else "B"), {"answer": "<answer>B</answer>"}
    if family == "xiangqi":
        # the start position's 44 legal moves, 4 scored by the row (MultiPV); completions name
        # 4 of those and 4 others, which xiangqi.good has the engine score (cached after the first)
        from r1data.corpora.xiangqi.board import START_FEN
        from r1data.corpora.xiangqi.rules import legal_moves

        legal = legal_moves(START_FEN)
        listed = ["h2e2", "b0c2", "h0g2", "c3c4"]
        moves = listed + ["g3g4", "b2b9", "a0a1", "i0i1"]
        cols = {"legal_moves": legal, "best_move": "b0c2", "best_score": 30, "scored_moves": listed,
                "scored_values": [20, 30, -40, 0], "side_to_move": "red", "situation": "balanced",
                "fen": START_FEN, "nodes": 8000}
        return (lambda v: _ta(f"Move: {moves[v]}\nSituation: {'balanced' if v % 2 else 'red_slight'}")), cols
    if family == "segearth":
        m = np.zeros((64, 64), dtype=bool)
        m[8:40, 10:50] = True
        png = mask_to_png(m)
        rles = [json.dumps(rle_encode(np.roll(m, v, axis=1))) for v in range(GROUP)]
        return (lambda v: _ta(rles[v]) if v < 6 else _ta("empty")), {"mask": png}
    if family == "star":
        truth = [{"obj_idx": 2, "attr": "color", "val": "cyan"}, {"obj_idx": 0, "attr": "position", "val": ["behind", 2]}]
        return (lambda v: _ta(["2.color.cyan, 0.position.[behind, 2]", "2.color.red", "1.size.large, 2.color.cyan, 3.shape.cube",
                               ""][v % 4])), {"transformations": truth}
    if family == "infigui":
        gt = {"action": "click", "coordinate": [540, 1200], "candidate_bbox": [[500, 1150, 580, 1250]]}
        return (lambda v: "<think>t</think><tool_call>" + json.dumps(
            {"name": "mobile_use", "arguments": {"action": "click", "coordinate": [546 + 20 * v, 1204]}}) + "</tool_call>"), \
            {"gt_action": gt, "width": 1080, "height": 2400, "target_box": [500, 1150, 580, 1250],
             "sub_goal": "open the settings page", "task": "step"}
    if family == "love":
        return (lambda v: f"I need to zoom in on the video.\n\n\\boxed{{[{5 * v}, {5 * v + 20}]}}" if v % 2 else
                "I get the answer.\n\n\\boxed{B}"), {"duration": 300, "zoomin_intervals": [[0, 20]],
                                                      "answer": "<answer>B</answer>", "tgt": None}
    if family == "got":
        plan = "<|obj_start|>cat<|obj_end|> <|box_start|>(0,0),(500,500)<|box_end|> <|obj_start|>mat<|obj_end|> " \
               "<|box_start|>(100,600),(900,990)<|box_end|>"
        objects = [{"name": "cat", "category": "cat", "color": "", "count": 1},
                   {"name": "mat", "category": "mat", "color": "", "count": 1}]
        return (lambda v: plan), {"grounded_boxes": [[0, 0, 450, 500], [120, 580, 880, 1000]], "caption": "a cat on a mat",
                                  "image": None, "prompt_objects": objects,
                                  "relations": [{"subject": 0, "relation": "top", "object": 1}]}
    if family == "omni":
        return (lambda v: _ta(f'{{"bbox_2d": [{v}, 0, 50, 60]}}')), {"bbox": [0, 0, 50, 50], "width": 640, "height": 480,
                                                                     "problem_type": "refavs", "frame_mask_area": [[5]]}
    raise KeyError(family)


def make_batch(family: str, n: int, seed: int = 0) -> tuple[list[str], dict[str, list]]:
    rng = np.random.default_rng(seed)
    completions: list[str] = []
    columns: dict[str, list] = {}
    while len(completions) < n:
        make, cols = family_rows(family, rng)
        for v in range(GROUP):
            completions.append(make(v))
            for k, val in cols.items():
                columns.setdefault(k, []).append(val)
    return completions[:n], {k: v[:n] for k, v in columns.items()}


def bench_rewards(batch: int, repeat: int) -> None:
    print(f"rule-based rewards on a batch of {batch} completions (best of {repeat}); budget {BUDGET_MS:.0f} ms")
    print(f"  {'reward':<26} {'ms/batch':>9} {'rewards/s':>11} {'x budget':>9}")
    worst = 0.0
    for name in rewards.names():
        if not rewards.info(name).rule_based:     # a sentence encoder or a judge: not rule-based
            continue
        fn = rewards.load(name)
        completions, columns = make_batch(name.split(".")[0], batch)
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            fn(prompts=None, completions=completions, **columns)
            times.append(time.perf_counter() - t0)
        ms = min(times) * 1000
        worst = max(worst, ms / BUDGET_MS)
        print(f"  {name:<26} {ms:9.2f} {batch / (ms / 1000):11,.0f} {ms / BUDGET_MS:9.2f}")
    print(f"  slowest reward: {worst:.2f} x the {BUDGET_MS:.0f} ms budget ({'under' if worst < 1 else 'OVER'})")


def bench_xiangqi_oracle(batch: int, positions: int, repeat: int) -> None:
    """xiangqi.good on moves no row scored: every one searched once by the engine, then cached."""
    from r1data.corpora.xiangqi.board import START_FEN, Board
    from r1data.corpora.xiangqi.oracle import shared_oracle
    from r1data.corpora.xiangqi.rules import legal_moves

    rng = np.random.default_rng(0)
    rows = []
    while len(rows) < positions:               # positions of seeded random playouts
        board = Board.from_fen(START_FEN)
        for _ in range(int(rng.integers(6, 60))):
            legal = legal_moves(board.fen())
            if not legal:
                break
            rows.append((board.fen(), legal))
            board.push(legal[int(rng.integers(len(legal)))])
    rows = rows[:positions]
    completions, columns = [], {k: [] for k in ("legal_moves", "best_move", "best_score", "scored_moves",
                                                 "scored_values", "side_to_move", "fen", "nodes")}
    for i in range(batch):
        fen, legal = rows[i % len(rows)]
        listed = legal[:4]                       # the row's stored MultiPV list
        completions.append(_ta(f"Move: {legal[int(rng.integers(len(legal)))]}\nSituation: balanced"))
        for k, v in (("legal_moves", legal), ("best_move", listed[0]), ("best_score", 0), ("scored_moves", listed),
                     ("scored_values", [0] * len(listed)), ("side_to_move", "red" if " w " in fen else "black"),
                     ("fen", fen), ("nodes", 8000)):
            columns[k].append(v)
    oracle = shared_oracle()
    if oracle is None:
        print("\nxiangqi.good with the engine: skipped, fairy-stockfish is not installed")
        return
    fn = rewards.load("xiangqi.good")
    before = dict(oracle.counters)
    t0 = time.perf_counter()
    fn(prompts=None, completions=completions, **columns)
    uncached = time.perf_counter() - t0
    searched = oracle.counters["searched"] - before.get("searched", 0)
    cached = min(_timed(lambda: fn(prompts=None, completions=completions, **columns)) for _ in range(repeat))
    print(f"\nxiangqi.good on {batch} completions over {len(rows)} positions, most moves outside the rows' "
          f"stored lists ({oracle.size} engine processes, 8,000 nodes per search):")
    print(f"  uncached: {uncached:8.2f} s   ({searched} moves searched: {uncached / max(1, searched) * 1000:.1f} ms "
          f"each, {searched / uncached:.1f} moves/s)")
    print(f"  cached:   {cached * 1000:8.2f} ms  ({cached * 1000 / BUDGET_MS:.2f} x the {BUDGET_MS:.0f} ms budget, "
          f"{'under' if cached * 1000 < BUDGET_MS else 'OVER'})")


def bench_masks(count: int, size: int, repeat: int) -> None:
    rng = np.random.default_rng(0)
    pred = np.zeros((count, size, size), dtype=bool)
    gt = np.zeros((count, size, size), dtype=bool)
    for i in range(count):                      # blob-like masks of random extent
        y, x = rng.integers(0, size // 2, 2)
        h, w = rng.integers(size // 8, size // 2, 2)
        gt[i, y:y + h, x:x + w] = True
        pred[i, y + h // 4:y + h + h // 4, x:x + w] = True

    def plain_loop() -> np.ndarray:
        out = np.empty(count)
        for i in range(count):
            p, g = pred[i], gt[i]
            union = np.count_nonzero(p | g)
            out[i] = np.count_nonzero(p & g) / union if union else 1.0
        return out

    def batched() -> np.ndarray:
        return mask_iou_batch(pred, gt)[0]

    assert np.allclose(plain_loop(), batched())
    t_loop = min(_timed(plain_loop) for _ in range(repeat))
    t_batch = min(_timed(batched) for _ in range(repeat))
    print(f"\nmask IoU, {count} pairs of {size}x{size} masks (best of {repeat})")
    print(f"  plain numpy loop   {t_loop * 1000:9.1f} ms  ({count / t_loop:,.0f} pairs/s)")
    print(f"  mask_iou_batch     {t_batch * 1000:9.1f} ms  ({count / t_batch:,.0f} pairs/s)")
    print(f"  speed-up: {t_loop / t_batch:.2f}x")


def _timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--masks", type=int, default=64)
    parser.add_argument("--mask-size", type=int, default=1024)
    parser.add_argument("--positions", type=int, default=128, help="positions of the xiangqi oracle figure")
    args = parser.parse_args()
    # the engine oracle's cache must start empty here, whatever an earlier run stored
    os.environ["R1DATA_CACHE_DIR"] = tempfile.mkdtemp(prefix="bench-rewards-")
    bench_rewards(args.batch, args.repeat)
    bench_xiangqi_oracle(args.batch, args.positions, args.repeat)
    bench_masks(args.masks, args.mask_size, args.repeat)


if __name__ == "__main__":
    main()
