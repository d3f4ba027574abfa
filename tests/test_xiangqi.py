"""Xiangqi: boards and coordinates, the real engine (moves, searches, restarts), tiny builds.

Every test drives the real /usr/games/fairy-stockfish and pyffish; the module is skipped on
a machine without them.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
from pathlib import Path

import pytest

pyffish = pytest.importorskip("pyffish")
from r1data.corpora.xiangqi.uci import DEFAULT_ENGINE, UciEngine  # noqa: E402

ENGINE = os.environ.get("R1DATA_FAIRY_STOCKFISH") or DEFAULT_ENGINE
if not (os.path.isfile(ENGINE) or shutil.which(ENGINE)):
    pytest.skip("fairy-stockfish is not installed (apt-get install fairy-stockfish)", allow_module_level=True)

import r1data  # noqa: E402
from r1data.corpora.xiangqi.analysis import Analyzer  # noqa: E402
from r1data.corpora.xiangqi.board import (START_FEN, Board, FenError, check_fen, from_engine,  # noqa: E402
                                          game_fens, material, to_engine, to_wxf, wxf_to_iccs)
from r1data.rewards import load as load_reward  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
OPENING = ["h2e2", "h9g7", "h0g2", "i9h9", "i0h0", "b9c7", "b0c2", "c6c5"]


@pytest.fixture(scope="module")
def analyzer():
    a = Analyzer(ENGINE, cache_size=0)
    yield a
    a.close()


# -- conventions ---------------------------------------------------------------------------------

def test_iccs_and_engine_ranks_cross_only_through_to_from_engine():
    assert to_engine("h2e2") == "h3e3"
    assert to_engine("b0c2") == "b1c3" and from_engine("b1c3") == "b0c2"
    assert from_engine("b3b10") == "b2b9"
    with pytest.raises(ValueError):
        to_engine("h2e10")


def test_board_plays_a_game_and_writes_the_fen_fairy_stockfish_writes():
    fens, bad, _ = game_fens(START_FEN, OPENING)
    assert bad is None and len(fens) == len(OPENING) + 1
    engine_fen = pyffish.get_fen("xiangqi", START_FEN, [to_engine(m) for m in OPENING])
    assert fens[-1] == engine_fen
    assert to_wxf(START_FEN, OPENING[:3]) == ["C2=5", "H8+7", "H2+3"]
    legal = sorted(from_engine(m) for m in pyffish.legal_moves("xiangqi", START_FEN, []))
    assert wxf_to_iccs(START_FEN, "C2=5", legal) == "h2e2"
    assert wxf_to_iccs(START_FEN, "C2=9", legal) is None      # h2a2: the other cannon is in the way
    mat = material(Board.from_fen(START_FEN))
    assert mat["red"]["points"] == mat["black"]["points"] == 48.0


@pytest.mark.parametrize("fen, why", [
    ("rnbakabnr/9/1c5c1/p1p1p1p1p/9/9/P1P1P1P1P/1C5C1/9/RNBAKABNK w - - 0 1", "generals"),
    ("rnbakabnr/9/1c5c1/p1p1p1p1p/9/9/P1P1P1P1P/1C5C1/RNBAKABNR w - - 0 1", "ranks"),
    ("rnbakabnr/9/1c5c1/p1p1p1p1p/9/9/P1P1P1P1P/1C5C1/9/RNBAKABNR x - - 0 1", "side to move"),
    ("rnbakabnr/9/1c5c1/p1p1p1p1p/9/9/P1P1P1P1P/1C5C1/9/RNBAKABNZ w - - 0 1", "unknown piece"),
    # Black to move, but Red's general already stands in check from Black's chariot
    ("4k4/9/9/9/4r4/9/9/9/9/4K4 b - - 0 1", "in check"),
])
def test_bad_fens_are_refused_with_the_reason(fen, why):
    with pytest.raises(FenError, match=why):
        check_fen(fen)


# -- the engine --------------------------------------------------------------------------------

def test_engine_move_generation_matches_pyffish_on_played_positions(analyzer):
    fens, _, _ = game_fens(START_FEN, OPENING)
    ours = analyzer.legal_moves(fens)
    theirs = [sorted(from_engine(m) for m in pyffish.legal_moves("xiangqi", f, [])) for f in fens]
    assert ours == theirs
    assert len(ours[0]) == 44


def test_search_is_a_pure_function_of_the_fen(analyzer):
    fen = game_fens(START_FEN, OPENING[:4])[0][-1]
    first = analyzer.engine.search(fen, nodes=1500, multipv=3)
    analyzer.engine.search(START_FEN, nodes=3000, multipv=1)    # anything in between
    again = analyzer.engine.search(fen, nodes=1500, multipv=3)
    assert first == again
    assert len(first.lines) == 3 and first.lines[0].move == first.best_move
    assert all(ln.pv[0] == ln.move for ln in first.lines)


def test_a_killed_engine_is_restarted_and_the_request_retried(analyzer):
    before = analyzer.restarts
    analyzer.engine.legal_moves([START_FEN])
    os.kill(analyzer.engine.pid, signal.SIGKILL)
    result = analyzer.engine.search(START_FEN, nodes=1000)
    assert result.best_move in analyzer.engine.legal_moves([START_FEN])[0]
    assert analyzer.restarts == before + 1


def _crashing_engine(tmp_path: Path, after: int = 0) -> Path:
    """A fairy-stockfish wrapper that dies on its ``after``-th search (once per marker file)."""
    script = tmp_path / "flaky-engine"
    marker = tmp_path / "crashed"
    script.write_text(f"""#!{os.sys.executable}
import os, subprocess, sys
engine = subprocess.Popen([{ENGINE!r}], stdin=subprocess.PIPE, stdout=sys.stdout, bufsize=0)
searches = 0
for line in sys.stdin:
    if line.startswith("go nodes"):
        searches += 1
        if searches > {after} and not os.path.exists({str(marker)!r}):
            open({str(marker)!r}, "w").close()
            engine.kill()
            os._exit(1)
    engine.stdin.write(line.encode())
""")
    script.chmod(0o755)
    return script


def _not_xiangqi_engine(tmp_path: Path) -> Path:
    """A UCI engine that plays chess only (the variant check must refuse it)."""
    script = tmp_path / "chess-engine"
    script.write_text(f"""#!{os.sys.executable}
import sys
for line in sys.stdin:
    cmd = line.strip()
    if cmd == "uci":
        print("id name Stockfish 16\\noption name UCI_Variant type combo default chess var chess\\nuciok", flush=True)
    elif cmd == "isready":
        print("readyok", flush=True)
    elif cmd == "quit":
        break
""")
    script.chmod(0o755)
    return script


def test_a_session_search_after_a_crash_replays_the_session_first(tmp_path, analyzer):
    fens = game_fens(START_FEN, OPENING)[0][4:]
    steady = Analyzer(ENGINE)
    flaky = Analyzer(str(_crashing_engine(tmp_path, after=3)))
    try:
        steady.begin_game("g")
        flaky.begin_game("g")
        expected = [steady.search(f, nodes=700, multipv=2, ply=4 + i) for i, f in enumerate(fens)]
        got = [flaky.search(f, nodes=700, multipv=2, ply=4 + i) for i, f in enumerate(fens)]
        assert (tmp_path / "crashed").exists()
        assert flaky.restarts == 1 and flaky.engine.replayed == 3     # the 3 searches before the crash
        assert got == expected                                         # as if nothing had happened
    finally:
        steady.close()
        flaky.close()


def test_an_engine_without_xiangqi_is_one_line_before_the_build_starts(tmp_path):
    import subprocess
    import sys

    out = tmp_path / "out"
    env = {**os.environ, "R1DATA_FAIRY_STOCKFISH": str(_not_xiangqi_engine(tmp_path))}
    for workers in ("1", "2"):
        res = subprocess.run([sys.executable, "-m", "r1data", "build", "xiangqi", "-o", str(out), "--workers", workers],
                             env=env, capture_output=True, text=True, timeout=120)
        assert res.returncode != 0
        lines = [ln for ln in res.stderr.strip().splitlines() if ln.strip()]
        assert len(lines) == 1 and "does not offer UCI_Variant xiangqi" in lines[0], res.stderr
        assert not out.exists(), "nothing is written before the check"


def test_engines_die_with_the_process_that_started_them(tmp_path):
    import subprocess
    import sys
    import time

    # a worker-like process holding a started engine, killed with SIGKILL: its engine follows
    code = (f"import sys, time; sys.path.insert(0, {str(REPO)!r})\n"
            "from r1data.corpora.xiangqi.uci import UciEngine\n"
            f"e = UciEngine({ENGINE!r}); e.start(); print(e.pid, flush=True); time.sleep(600)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    engine_pid = int(proc.stdout.readline())
    assert _alive(engine_pid)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 5
    while _alive(engine_pid) and time.time() < deadline:
        time.sleep(0.05)
    assert not _alive(engine_pid), "the engine outlived its parent"
    # and an engine whose stdin closes (its parent's end of the pipe gone) quits on its own
    eng = UciEngine(ENGINE)
    eng.start()
    pid = eng.pid
    eng.proc.stdin.close()
    eng.proc.wait(timeout=5)
    assert not _alive(pid)
    eng.proc = None


@pytest.mark.slow
def test_kill_9_of_a_build_takes_its_engine_with_it(tmp_path, tiny_workspace):
    import subprocess
    import sys
    import time

    proc = subprocess.Popen([sys.executable, "-m", "r1data", "build", "xiangqi", "--size", "5000", "-o",
                             str(tmp_path / "out"), "--workspace", str(tiny_workspace), "--no-progress"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    engines: list[int] = []
    while not engines and time.time() < deadline:
        engines = [pid for pid in _children(proc.pid) if "fairy-stockfish" in _cmdline(pid)]
        time.sleep(0.05)
    assert engines, "the build started no engine"
    os.kill(proc.pid, signal.SIGKILL)         # the build alone, not its process group
    proc.wait()
    deadline = time.time() + 5
    while any(_alive(pid) for pid in engines) and time.time() < deadline:
        time.sleep(0.05)
    assert not any(_alive(pid) for pid in engines), "an engine outlived the build"


def _children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        out.append(int(entry))
            except (OSError, ValueError):
                pass
    return out


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


# -- builds -------------------------------------------------------------------------------------

def _rows(out: Path) -> list[dict]:
    corpus = r1data.open_corpus(out)
    return [row for split in corpus.manifest["splits"] for row in corpus.table(split).to_pylist()]


@pytest.fixture(scope="module")
def tiny_workspace(tmp_path_factory) -> Path:
    """The shipped spec with a tiny engine budget and short games (a workspace overrides it)."""
    import yaml

    spec = yaml.safe_load((REPO / "pipelines" / "xiangqi.yaml").read_text())
    steps = {s["step"]: s for s in spec["steps"]}
    steps["xiangqi_selfplay"].update(max_plies=40, levels=[
        {"name": "strong", "nodes": 400, "weight": 2},
        {"name": "novice", "nodes": 400, "temperature": 120, "blunder": 0.1, "weight": 1}])
    steps["xiangqi_evaluate"]["nodes"] = 400
    ws = tmp_path_factory.mktemp("xq-workspace")
    (ws / "pipelines").mkdir()
    (ws / "pipelines" / "xiangqi.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return ws


@pytest.fixture(scope="module")
def selfplay_build(tmp_path_factory, tiny_workspace):
    from r1data.engine.runner import build

    out = tmp_path_factory.mktemp("xq") / "selfplay"
    build("xiangqi", out, size=90, progress=False, workspace=tiny_workspace)
    return out


def test_selfplay_build_holds_the_agreed_columns(selfplay_build):
    rows = _rows(selfplay_build)
    assert len(rows) == 90
    situations = {"red_clear", "red_slight", "balanced", "black_slight", "black_clear"}
    for row in rows:
        assert row["move"] in row["legal_moves"] and row["best_move"] in row["legal_moves"]
        assert row["side_to_move"] == ("red" if " w " in row["fen"] else "black")
        assert len(row["scored_moves"]) == len(row["scored_values"])
        assert row["situation"] in situations
        assert row["best"] == (row["move"] == row["best_move"])
        assert row["training"] == (row["result"] == "draw" or row["result"] == f"{row['side_to_move']}_win")
        assert row["move_answer"] == f"Move: {row['move']}" and row["fen"] in row["question"]
    # positions are unique across the corpus, and no game straddles two splits
    assert len({" ".join(r["fen"].split()[:2]) for r in rows}) == len(rows)
    corpus = r1data.open_corpus(selfplay_build)
    split_of = {}
    for split in corpus.manifest["splits"]:
        for gid in corpus.table(split).column("game_id").to_pylist():
            assert split_of.setdefault(gid, split) == split
    assert corpus.manifest["counters"]["selfplay_games"] >= 1


def test_the_stage2_answer_earns_the_full_reward_and_a_wrong_move_does_not(selfplay_build):
    rows = _rows(selfplay_build)[:20]
    cols = {c: [r[c] for r in rows] for c in ("legal_moves", "best_move", "best_score", "scored_moves",
                                               "scored_values", "side_to_move", "situation")}
    total = load_reward("xiangqi.total")
    assert total(completions=[r["analysis"] for r in rows], **cols) == [5.0] * len(rows)
    wrong = [r["analysis"].replace(f"Move: {r['best_move']}", "Move: a0a0") for r in rows]   # never legal
    assert all(v <= 2.0 for v in total(completions=wrong, **cols))   # format + situation at most


def test_eval_cli_scores_predictions_against_the_build(selfplay_build, tmp_path, cli):
    rows = _rows(selfplay_build)
    preds = tmp_path / "preds.jsonl"
    preds.write_text("".join(json.dumps({"id": r["id"], "completion": r["analysis"]}) + "\n" for r in rows))
    res = cli("eval", "xiangqi", "--data", str(selfplay_build), "--predictions", str(preds), "--json")
    assert res.exit_code == 0, res.stderr
    report = json.loads(res.stdout)
    # the spec's five rewards, weight 1 each: R = r_legal + r_good + r_best + R_situation + R_format
    assert set(report["rewards"]) == {"xiangqi.legal", "xiangqi.good", "xiangqi.best", "xiangqi.situation",
                                      "xiangqi.format"}
    assert report["weighted"]["mean"] == 5.0
    assert report["metrics"]["best@1"] == 1.0 and report["metrics"]["5-class@1"] == 1.0
    assert report["metrics"]["good_moves_by_engine"] == 0      # every answer is a scored move


def test_eval_judges_moves_the_rows_did_not_score_with_the_engine(selfplay_build, tmp_path, cli, monkeypatch):
    from r1data.corpora.xiangqi.oracle import close_oracles

    monkeypatch.setenv("R1DATA_CACHE_DIR", str(tmp_path / "cache"))
    close_oracles()
    rows = _rows(selfplay_build)[:12]
    preds = tmp_path / "preds.jsonl"
    unlisted = {}
    for r in rows:
        unlisted[r["id"]] = next(m for m in r["legal_moves"] if m not in r["scored_moves"])
    preds.write_text("".join(json.dumps({"id": k, "completion": r["analysis"].replace(f"Move: {r['best_move']}",
                                                                                       f"Move: {unlisted[k]}")}) + "\n"
                             for r in rows for k in [r["id"]]))
    try:
        res = cli("eval", "xiangqi", "--data", str(selfplay_build), "--predictions", str(preds), "--json")
    finally:
        close_oracles()
    assert res.exit_code == 0, res.stderr
    report = json.loads(res.stdout)
    assert report["metrics"]["good_moves_by_engine"] == len(rows) and report["metrics"]["good_moves_fallback"] == 0
    # good@1 counts the engine's verdicts: some of those moves lie within 100 cp of the best
    assert report["metrics"]["good@1"] == report["rewards"]["xiangqi.good"]["mean"] > 0.0
    assert report["metrics"]["best@1"] == 0.0


# -- verifiers: a corrupted row fails with the reason, an untouched one passes -------------------

def _check(name: str, row: dict) -> tuple[bool, str]:
    from r1data.registry import verifiers

    result = verifiers.get(name)(row)
    return result if isinstance(result, tuple) else (bool(result), "")


def _other_situation(situation: str) -> str:
    return "red_clear" if situation != "red_clear" else "black_clear"


# (field, corruption, verifier that must catch it, words its reason must hold)
CORRUPTIONS = [
    ("move", lambda r: "e0e9", "xiangqi_moves_legal", "move e0e9 is not legal"),   # never legal
    ("best_move", lambda r: "e0e9", "xiangqi_moves_legal", "best_move e0e9 is not legal"),
    ("legal_moves", lambda r: r["legal_moves"][1:], "xiangqi_moves_legal", "legal_moves differ"),
    ("good", lambda r: not r["good"], "xiangqi_labels_consistent", "good="),
    ("best", lambda r: not r["best"], "xiangqi_labels_consistent", "best="),
    ("situation", lambda r: _other_situation(r["situation"]), "xiangqi_labels_consistent", "situation="),
    ("situation3", lambda r: "balanced" if r["situation3"] != "balanced" else "red",
     "xiangqi_labels_consistent", "situation3="),
    ("move_score", lambda r: r["move_score"] + 1, "xiangqi_labels_consistent", "played move's score"),
]


@pytest.mark.parametrize("field, corrupt, name, reason", CORRUPTIONS, ids=[c[0] for c in CORRUPTIONS])
def test_the_verifiers_fail_a_corrupted_row_with_the_reason(selfplay_build, field, corrupt, name, reason):
    row = _rows(selfplay_build)[5]
    for check in ("xiangqi_moves_legal", "xiangqi_labels_consistent", "xiangqi_reference_rewarded"):
        assert _check(check, row)[0], (check, _check(check, row))
    bad = {**row, field: corrupt(row)}
    assert bad[field] != row[field]
    ok, detail = _check(name, bad)
    assert not ok and reason in detail, detail


def test_the_verify_step_rejects_the_corrupted_row_and_keeps_the_rest(selfplay_build):
    from r1data.steps.base import Reject, StepContext
    from r1data.steps.checks import Verify

    rows = _rows(selfplay_build)[:4]
    rows[1] = {**rows[1], "move": "e0e9"}
    rows[2] = {**rows[2], "situation": _other_situation(rows[2]["situation"])}
    ctx = StepContext(seed=0, corpus="xiangqi", step="verify")
    out = list(Verify(ctx, verifiers=["xiangqi_moves_legal", "xiangqi_labels_consistent"])(rows))
    assert [type(x) is Reject for x in out] == [False, True, True, False]
    assert out[1].reason == "xiangqi_moves_legal" and "e0e9" in out[1].detail
    assert out[2].reason == "xiangqi_labels_consistent" and "situation=" in out[2].detail
    # the pass rates the manifest reports, [passed, checked]: the illegal move has no score either
    assert ctx.stats.verifiers == {"xiangqi_moves_legal": [3, 4], "xiangqi_labels_consistent": [2, 4]}
    assert "played move's score" in out[1].detail


# -- the evaluation cache ------------------------------------------------------------------------

def test_a_game_is_searched_in_one_session_the_same_way_every_time(analyzer):
    fens = game_fens(START_FEN, OPENING)[0]
    requests = fens[4:] + fens[4:6]                  # plies 4.. (past the book), then two repeats

    def play(a: Analyzer) -> list:
        a.begin_game("g1")
        return [a.search(f, nodes=600, multipv=2, ply=4 + i % (len(fens) - 4)) for i, f in enumerate(requests)]

    first = Analyzer(ENGINE)
    try:
        one = play(first)
        assert (first.misses, first.hits) == (len(fens) - 4, 2)     # repeats come from the game's cache
        first.begin_game("other")
        first.search(START_FEN, nodes=900, ply=10)    # anything in between, in another game
        first.games.clear()                           # forget g1: it is searched again, from scratch
        first.game = None
        again = play(first)
    finally:
        first.close()
    assert again == one
    # a new process (a restarted engine, another worker) plays the game to the same results
    other = Analyzer(ENGINE)
    try:
        assert play(other) == one
    finally:
        other.close()


def test_book_positions_are_pure_searches_shared_across_games(analyzer):
    fens = game_fens(START_FEN, OPENING[:3])[0]      # plies 0-3: the opening book
    cached = Analyzer(ENGINE, cache_size=64)
    try:
        with_book = []
        for game in ("a", "b", "c"):
            cached.begin_game(game)
            with_book += [cached.search(f, nodes=500, multipv=2, ply=i) for i, f in enumerate(fens)]
        assert (cached.misses, cached.book_hits) == (len(fens), 2 * len(fens))
    finally:
        cached.close()
    # uncached (cache_size=0): each searched fresh, whatever came before, to the same results
    analyzer.begin_game("z")
    analyzer.search(fens[-1], nodes=700, ply=9)
    without = [analyzer.search(f, nodes=500, multipv=2, ply=i) for i, f in enumerate(fens)]
    assert analyzer.book_hits == 0
    assert with_book == without * 3


def test_the_build_reuses_self_play_searches_in_the_evaluation(selfplay_build):
    # the tiny spec's strong level searches at the evaluation's budget and MultiPV
    counters = r1data.open_corpus(selfplay_build).manifest["counters"]
    assert counters["engine_cache_hits"] > 0 and counters["engine_searches"] > 0


def test_a_build_without_the_book_searches_more_and_writes_the_same_rows(tmp_path, selfplay_build,
                                                                          tiny_workspace):
    import yaml

    from r1data.corpora.xiangqi.analysis import close_all
    from r1data.engine.runner import build

    ws = tmp_path / "ws"
    shutil.copytree(tiny_workspace, ws)
    spec = yaml.safe_load((ws / "pipelines" / "xiangqi.yaml").read_text())
    for s in spec["steps"]:      # the engine steps share one book, as large as the largest asks
        if s["step"] in ("xiangqi_selfplay", "xiangqi_positions", "xiangqi_evaluate"):
            s["cache_size"] = 0
    (ws / "pipelines" / "xiangqi.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    close_all()          # a fresh engine and an empty cache, as in a new process
    try:
        result = build("xiangqi", tmp_path / "nocache", size=90, progress=False, workspace=ws)
    finally:
        close_all()      # later builds get their cache back
    cached = r1data.open_corpus(selfplay_build).manifest["counters"]
    counters = result.manifest["counters"]
    assert "engine_book_hits" not in counters and cached["engine_book_hits"] > 0
    assert counters["engine_searches"] == cached["engine_searches"] + cached["engine_book_hits"]
    assert _rows(tmp_path / "nocache") == _rows(selfplay_build)


# -- self-play diversity -------------------------------------------------------------------------

def test_the_manifest_states_the_duplicate_rate_and_the_opening_diversity(selfplay_build):
    manifest = r1data.open_corpus(selfplay_build).manifest
    steps = {s["step"]: s for s in manifest["steps"]}
    dedup, openings = steps["dedup"]["summary"], steps["xiangqi_openings"]["summary"]
    assert dedup["duplicates"] == steps["dedup"]["rejected"] >= 1        # the start position, at least
    assert dedup["duplicate_rate"] == round(dedup["duplicates"] / steps["dedup"]["in"], 6)
    games = manifest["counters"]["xiangqi_games"]
    assert openings["games"] == games >= 2
    after = openings["distinct_positions_after_plies"]
    assert set(after) == {"2", "4", "8", "16"} and 1 <= after["2"] <= after["8"] <= games
    assert openings["distinct_share_of_games"]["8"] == round(after["8"] / games, 4)


def test_self_play_games_open_differently_and_mix_strengths(selfplay_build):
    rows = _rows(selfplay_build)
    # a game's first position is the start position for every game, so dedup keeps only the
    # first game's ply-0 row in the corpus; the others stay queryable among the rejects
    dropped = [json.loads(r["record"]) for r in r1data.open_corpus(selfplay_build).rejects().to_pylist()
               if r["reason"] == "duplicate"]
    first_moves = {r["game_id"]: r["move"] for r in rows + dropped if r["ply"] == 0}
    games = {r["game_id"] for r in rows}
    assert len(games) >= 3 and games <= set(first_moves)
    assert len(set(first_moves.values())) >= 2, first_moves
    # the positions after the random opening differ too: no two games share their ply-4 position
    ply4 = [r["fen"] for r in rows if r["ply"] == 4]
    assert len(ply4) == len(set(ply4)) >= 2
    players = {(r["red_player"], r["black_player"]) for r in rows}
    assert len({p for pair in players for p in pair}) >= 2, players
    assert {r["red_player"] for r in rows} <= {"strong", "novice"}


def _write_games(folder: Path) -> None:
    lines = [
        {"id": "iccs-1", "moves": OPENING, "result": "1-0", "red": "Hu Ronghua", "black": "Yang Guanlin"},
        {"id": "wxf-1", "fen": game_fens(START_FEN, OPENING)[0][-1], "notation": "wxf",
         "moves": ["R2+6", "P3+1"], "result": "0-1"},
        {"id": "cut", "moves": ["H2-E2", "h9g7", "e2e9", "i9h9"], "result": "1/2-1/2"},
        {"id": "bad-fen", "fen": "rnbakabnr/9/9/9/9/9/9/9/9/RNBAKABNR", "moves": ["h0g2"], "result": "1-0"},
    ]
    folder.mkdir()
    (folder / "games.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines) + "{not json\n")


def test_recorded_games_keep_good_moves_and_reject_the_rest_with_reasons(tmp_path, cli):
    _write_games(tmp_path / "games")
    out = tmp_path / "out"
    res = cli("build", "xiangqi", "--source", "games", "--source-dir", str(tmp_path / "games"),
              "-o", str(out), "--size", "50")
    assert res.exit_code == 0, res.stderr
    rows = _rows(out)
    by_game: dict[str, list[dict]] = {}
    for row in rows:
        by_game.setdefault(row["game_id"], []).append(row)
    assert len(by_game["iccs-1"]) == 8 and by_game["iccs-1"][0]["red_player"] == "Hu Ronghua"
    assert [r["move"] for r in sorted(by_game["wxf-1"], key=lambda r: r["ply"])] == ["h0h6", "c5c4"]
    # "cut": the first two moves are the same positions as iccs-1's (deduplicated); its third is illegal
    rejects = r1data.open_corpus(out).rejects().to_pylist()
    reasons = {(r["step"], r["reason"]) for r in rejects}
    assert ("xiangqi_positions", "illegal_move") in reasons
    cut = next(r for r in rejects if r["reason"] == "illegal_move")
    assert "ply 2" in cut["detail"] and "e2e9" in cut["detail"]
    assert ("source", "bad_fen") in reasons and ("source", "bad_json") in reasons


def test_missing_source_dir_is_a_one_line_usage_error(tmp_path, cli):
    res = cli("build", "xiangqi", "--source", "games", "--source-dir", str(tmp_path / "nope"), "-o", str(tmp_path / "o"))
    assert res.exit_code == 2
    assert "does not exist" in res.stderr and "Traceback" not in res.stderr


@pytest.mark.slow
def test_a_crashing_engine_is_restarted_and_the_build_unchanged(tmp_path, selfplay_build, tiny_workspace,
                                                                monkeypatch):
    from r1data.engine.runner import build

    monkeypatch.setenv("R1DATA_FAIRY_STOCKFISH", str(_crashing_engine(tmp_path, after=25)))   # mid-game
    out = tmp_path / "flaky"
    result = build("xiangqi", out, size=90, progress=False, workspace=tiny_workspace)
    assert (tmp_path / "crashed").exists()
    counters = result.manifest["counters"]
    assert counters["engine_restarts"] >= 1 and counters["engine_replayed_searches"] >= 1
    assert _rows(out) == _rows(selfplay_build)


@pytest.mark.slow
def test_two_workers_build_the_same_rows_as_one(tmp_path, selfplay_build, tiny_workspace):
    from r1data.engine.runner import build

    out = tmp_path / "w2"
    build("xiangqi", out, size=90, workers=2, progress=False, workspace=tiny_workspace)
    assert _rows(out) == _rows(selfplay_build)


@pytest.mark.slow
def test_kill_and_resume_gives_the_rows_of_an_uninterrupted_build(tmp_path, tiny_workspace):
    import subprocess
    import sys
    import time

    import yaml

    # small shards so that checkpoints happen while games are still being played
    ws = tmp_path / "ws"
    shutil.copytree(tiny_workspace, ws)
    spec = yaml.safe_load((ws / "pipelines" / "xiangqi.yaml").read_text())
    spec["output"]["shard_size_mb"] = 0.05
    (ws / "pipelines" / "xiangqi.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    def command(out: Path) -> list[str]:
        return [sys.executable, "-m", "r1data", "build", "xiangqi", "--size", "300", "-o", str(out),
                "--workspace", str(ws), "--no-progress"]

    # the uninterrupted build in its own process too: engine caches live as long as a process
    full = tmp_path / "full"
    assert subprocess.run(command(full), capture_output=True, timeout=300).returncode == 0
    expected = json.loads((full / "manifest.json").read_text())
    out = tmp_path / "killed"
    cmd = command(out)
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if len(list((out / "data").glob("train-*.arrow")) if (out / "data").exists() else []) >= 3:
            break
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)      # the build and its engine process, at once
    proc.wait()
    assert not (out / "manifest.json").exists(), "the build must have been killed mid-way"
    ckpt = json.loads((out / ".r1data" / "checkpoint.json").read_text())
    searched_before_kill = ckpt["stats"]["counters"]["engine_searches"]
    assert ckpt["cursor"] > 0 and searched_before_kill > 0, ckpt["cursor"]
    resumed = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    got = json.loads((out / "manifest.json").read_text())
    assert got["splits"] == expected["splits"], "same shards, byte for byte"
    # the resumed run searched only the games after the checkpoint (its cache starts empty, so a
    # position an earlier game had searched may be searched once more: totals agree within 10 %)
    total, full_total = got["counters"]["engine_searches"], expected["counters"]["engine_searches"]
    assert total - searched_before_kill < full_total, (total, searched_before_kill, full_total)
    assert abs(total - full_total) <= 0.1 * full_total, (total, full_total)
    assert _rows(out) == _rows(full)
