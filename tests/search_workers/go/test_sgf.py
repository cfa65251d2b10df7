"""SGF reading and writing: round trips, files from other programs, and precise rejections.

Fixtures in data/ and where they come from:

* gnugo_9x9.sgf, gnugo_13x13_handicap.sgf, gnugo_19x19.sgf: written by GNU Go 3.8 itself,
  unedited (`gnugo --level 1 [--chinese-rules] -l start.sgf --score finish -o out.sgf`, GNU Go
  playing both sides from a root we gave it: size, komi, rules, and HA[3] AB PL[W] for the
  handicap game). Their RE values are GNU Go's own estimates (B+41.4 is not a half point).
* katago_19x19.sgf: KataGo's self-play format (WriteSgf::writeSgf in KataGo's
  cpp/dataio/sgf.cpp: one line, no CA, PB PW HA KM RU RE, a root C with the game metadata,
  per-move "win loss noResult score v= weight=" comments, "result=" on the last move),
  reproduced with the first 140 moves of a GNU Go self-play game; the numbers in the comments
  are synthetic. No KataGo binary was available to write one.
* sabaki_handicap.sgf, sabaki_variations.sgf: Sabaki's output layouts (0.33.4: one node per
  line, indented, HA after AB and no PL; 0.52.2 via @sabaki/sgf: one line, variations after
  the shared nodes), reproduced with the moves of GNU Go games, UTF-8 text, `]` and `\\` escaped.
"""

from __future__ import annotations

import copy
import dataclasses
import pickle
import subprocess
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sgfmill import sgf as sgfmill_sgf

from search_workers.go import (
    Color,
    GameRecord,
    GameState,
    KoRule,
    Rules,
    SgfError,
    coords,
    random_game,
    read_sgf,
    read_sgf_file,
    write_sgf,
)
from search_workers.go.sgf import normalize_result
from tests.support.engines import require_gnugo

DATA = Path(__file__).parent / "data"
TRICKY = "close ] and \\ backslash, \\] both, [open\nsecond line: Grüße, 围棋, 🀄 \\"


def flat(point: str, n: int) -> int:
    return coords.from_sgf(point, n)


# ----------------------------------------------------------------------------- round trips


@pytest.mark.parametrize(("board_size", "preset", "komi", "seed"), [
    (9, "tromp-taylor", 7.5, 1), (9, "chinese", 6.0, 2), (9, "chinese", -3.5, 3),
    (19, "tromp-taylor", 7.5, 4), (19, "chinese", 0.5, 5),
])
def test_random_game_round_trip_and_replay(board_size, preset, komi, seed):
    state = random_game(board_size, Rules.preset(preset, komi=komi), seed=seed)
    last = len(state.moves)
    record = GameRecord.from_state(state, black="Black ]\\ 黑棋", white="net-0042", date="2024-05-01",
                                   game_name="arena [match] 7", comments={0: TRICKY, 1: "first]", last: TRICKY})
    text = write_sgf(record)
    assert read_sgf(text) == record
    assert read_sgf(text.encode("utf-8")) == record
    assert record.result == state.result and record.result is not None
    replayed = read_sgf(text).replay()
    np.testing.assert_array_equal(replayed.stones(), state.stones())
    assert replayed.moves == state.moves
    assert replayed.result == state.result
    assert replayed == state  # same ko/superko history and move limit too


def test_handicap_game_round_trip():
    hoshi = [flat(p, 19) for p in ("dd", "pd", "dp", "pp", "jj")]
    start = GameState.new(19, Rules.preset("chinese", komi=0.5)).with_setup(black=hoshi, to_move=Color.WHITE)
    state = random_game(start=start, seed=9)
    record = GameRecord.from_state(state, handicap=5)
    text = write_sgf(record)
    assert "HA[5]" in text and "AB[dd][pd][dp][pp][jj]" in text and "PL[W]" in text
    back = read_sgf(text)
    assert back == record
    assert back.moves[0][0] is Color.WHITE and back.first_player is Color.WHITE
    replayed = back.replay()
    np.testing.assert_array_equal(replayed.stones(), state.stones())
    assert replayed.moves == state.moves


def test_setup_only_position_round_trip():
    state = GameState.from_ascii("""
        . X O . .
        X X O . .
        O O O . .
        . . . . .
        . . . . .""", rules=Rules.preset("chinese"), to_move=Color.WHITE)
    record = GameRecord.from_state(state, comments={0: "White to live"})
    assert record.first_player is Color.WHITE and record.moves == ()
    back = read_sgf(write_sgf(record))
    assert back == record
    replayed = back.replay()
    np.testing.assert_array_equal(replayed.stones(), state.stones())
    assert replayed.to_move is Color.WHITE


def test_void_game_round_trip():
    state = random_game(9, seed=3, move_limit=30)
    record = GameRecord.from_state(state)
    assert record.result == "Void" and len(record.moves) == 30
    assert read_sgf(write_sgf(record)) == record


@settings(max_examples=60, deadline=None)
@given(comment=st.text(max_size=40), name=st.text(max_size=20))
def test_any_text_round_trips(comment, name):
    record = GameRecord(board_size=9, rules=Rules(), black=name, moves=((Color.BLACK, 40),),
                        comments={0: comment, 1: name + comment})
    assert read_sgf(write_sgf(record)) == record


def test_write_format_escapes_and_passes():
    record = GameRecord(board_size=9, rules=Rules.preset("chinese", komi=7.0), result="B+Resign",
                        moves=((Color.BLACK, 40), (Color.WHITE, 81), (Color.BLACK, 0)),
                        comments={2: "a]b\\c"})
    text = write_sgf(record)
    assert text.startswith("(;FF[4]GM[1]CA[UTF-8]SZ[9]KM[7]RU[Chinese]RE[B+R]\n")
    assert ";B[ee];W[]C[a\\]b\\\\c];B[aa])" in text
    assert text.endswith(")\n")


def test_written_sgf_is_read_by_sgfmill():
    state = random_game(13, Rules.preset("chinese", komi=6.5), seed=11)
    record = GameRecord.from_state(state, black="Bläck", white="White", comments={3: TRICKY})
    game = sgfmill_sgf.Sgf_game.from_bytes(write_sgf(record).encode("utf-8"))
    assert game.get_size() == 13 and game.get_komi() == 6.5
    assert game.get_player_name("b") == "Bläck" and game.get_root().get("RU") == "Chinese"
    assert game.get_winner() == {Color.BLACK: "b", Color.WHITE: "w", None: None}[state.winner]
    nodes = game.get_main_sequence()
    assert nodes[3].get("C") == TRICKY
    read_back = []
    for node in nodes[1:]:
        colour, move = node.get_move()
        # sgfmill counts rows from the bottom; we count from the top
        read_back.append((Color.parse(colour), 13 * 13 if move is None else (12 - move[0]) * 13 + move[1]))
    assert read_back == list(record.moves)


@pytest.mark.oracle
@pytest.mark.parametrize(("board_size", "seed"), [(9, 21), (19, 22)])
def test_written_sgf_is_read_by_gnugo(tmp_path, board_size, seed):
    gnugo = require_gnugo()
    state = random_game(board_size, Rules.preset("chinese"), seed=seed)  # GNU Go forbids suicide
    path = tmp_path / "game.sgf"
    path.write_text(write_sgf(GameRecord.from_state(state, comments={1: TRICKY})), encoding="utf-8")
    out = subprocess.run([gnugo, "--mode", "gtp"], input=f"loadsgf {path}\nlist_stones black\nlist_stones white\n",
                         capture_output=True, text=True, timeout=60).stdout
    replies = [block[2:].split() for block in out.strip().split("\n\n")]
    assert replies[0] == [state.to_move.name.lower()]
    for color, reply in zip((Color.BLACK, Color.WHITE), replies[1:]):
        expected = {coords.to_gtp(int(p), board_size) for p in np.flatnonzero(state.stones().ravel() == color)}
        assert set(reply) == expected


# ----------------------------------------------------------------------------- files of other programs

FIXTURES = {
    "gnugo_9x9.sgf": dict(size=9, moves=33, result="B+10.5", komi=7.5, first=Color.BLACK),
    "gnugo_13x13_handicap.sgf": dict(size=13, moves=54, result="B+41.4", komi=0.5, first=Color.WHITE),
    "gnugo_19x19.sgf": dict(size=19, moves=170, result="W+39.5", komi=6.5, first=Color.BLACK),
    "katago_19x19.sgf": dict(size=19, moves=140, result="W+R", komi=7.5, first=Color.BLACK),
    "sabaki_handicap.sgf": dict(size=19, moves=40, result=None, komi=0.5, first=Color.WHITE),
    "sabaki_variations.sgf": dict(size=13, moves=78, result="W+3.5", komi=6.5, first=Color.BLACK),
}


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_fixture_reads_and_replays(name):
    want = FIXTURES[name]
    record = read_sgf_file(DATA / name)
    assert (record.board_size, len(record.moves), record.result, record.komi) == (
        want["size"], want["moves"], want["result"], want["komi"])
    assert record.moves[0][0] is want["first"]
    state = record.replay()  # every move legal under the file's rules
    assert state.moves == list(record.moves)
    assert read_sgf(write_sgf(record)) == record  # and we can rewrite it faithfully


def test_gnugo_files_details():
    nine = read_sgf_file(DATA / "gnugo_9x9.sgf")
    assert nine.application == "GNU Go:3.8" and nine.rules == Rules.preset("tromp-taylor", komi=7.5)
    assert nine.moves[-2:] == ((Color.WHITE, 81), (Color.BLACK, 81))
    assert dict(nine.comments) == {33: "Black wins by 10.5 points\n"}
    assert nine.replay().is_over  # two passes end the game
    handicap = read_sgf_file(DATA / "gnugo_13x13_handicap.sgf")
    assert handicap.handicap == 3 and handicap.first_player is Color.WHITE
    assert handicap.setup_black == tuple(flat(p, 13) for p in ("dd", "jd", "dj")) and handicap.setup_white == ()
    # Japanese is replayed with simple ko and no suicide; the game has a ko fight at A5/A4
    assert handicap.rules_text == "Japanese" and handicap.rules.ko is KoRule.SIMPLE
    assert not handicap.rules.suicide_allowed
    nineteen = read_sgf_file(DATA / "gnugo_19x19.sgf")
    assert nineteen.rules == Rules.preset("chinese", komi=6.5) and nineteen.black == nineteen.white == "GNU Go"


def test_katago_file_details():
    record = read_sgf_file(DATA / "katago_19x19.sgf")
    assert record.rules_text == "koPOSITIONALscoreAREAtaxNONEsui1"
    assert record.rules == Rules.preset("tromp-taylor", komi=7.5)
    assert record.black.startswith("kata1-") and record.handicap == 0
    assert record.comments[0].startswith("startTurnIdx=0,initTurnNum=0,gameHash=")
    assert len(record.comments) == 141 and record.comments[140].endswith("result=W+R")
    state = record.replay()
    assert not state.is_over and state.result is None  # resignation is not a move


def test_sabaki_files_details():
    handicap = read_sgf_file(DATA / "sabaki_handicap.sgf")
    assert handicap.black == "Anfänger" and handicap.white == "Lehrer 先生" and handicap.handicap == 9
    assert len(handicap.setup_black) == 9 and handicap.first_player is None  # Sabaki writes no PL
    assert dict(handicap.comments) == {12: "Schön gespielt — 好棋!"}
    assert handicap.replay().stones()[3, 3] == Color.BLACK
    variations = read_sgf_file(DATA / "sabaki_variations.sgf")
    assert variations.comments[0] == "Hello there" and variations.comments[10] == "Joseki: see [this] line \\ not that"
    assert "Variation" not in "".join(variations.comments.values())  # only the main line is kept
    assert variations.moves[19] == (Color.WHITE, flat("be", 13)) and variations.moves[-1] == (Color.WHITE, 169)


# ----------------------------------------------------------------------------- reading details


def test_compressed_point_lists_and_repeated_setup_properties():
    record = read_sgf(b"(;SZ[9]AB[aa:cc]AB[ii]AW[ga:gb];W[ee])")  # old KataGo writes AB[..]AB[..]
    assert record.setup_black == tuple(r * 9 + c for r in range(3) for c in range(3)) + (80,)
    assert record.setup_white == (6, 15)


@pytest.mark.parametrize(("km", "komi"), [("KM[6.50]", 6.5), ("KM[7]", 7.0), ("KM[-3.5]", -3.5), ("", 0.0)])
def test_komi_spellings(km, komi):
    assert read_sgf(f"(;SZ[9]{km})").komi == komi


@pytest.mark.parametrize(("text", "normal"), [
    ("B+3.5", "B+3.5"), ("W+6.50", "W+6.5"), ("B+Resign", "B+R"), ("w+resign", "W+R"), ("B+Time", "B+T"),
    ("W+F", "W+F"), ("B+Forfeit", "B+F"), ("Draw", "0"), ("0", "0"), ("Void", "Void"), ("?", "?"), ("B+", "B+"),
])
def test_result_spellings(text, normal):
    assert normalize_result(text) == normal
    assert read_sgf(f"(;RE[{text}])").result == normal


def test_charsets():
    latin1 = "(;PB[René]C[café])".encode("latin-1")  # no CA: not UTF-8, so FF[4]'s Latin-1
    assert read_sgf(latin1).black == "René"
    gb = "(;CA[GB2312]PB[古力]C[围棋])".encode("gb2312")
    assert read_sgf(gb).black == "古力" and read_sgf(gb).comments[0] == "围棋"
    assert read_sgf("(;CA[GB2312]PB[古力])").black == "古力"  # a str is already decoded
    assert read_sgf("(;PW[柯洁])".encode("utf-8")).white == "柯洁"  # KataGo style: UTF-8, no CA
    with pytest.raises(SgfError, match=r"node 0, property CA: unknown charset 'klingon'"):
        read_sgf(b"(;CA[klingon]PB[x])")


def test_collection_reads_first_game_and_pass_spellings():
    record = read_sgf("junk before (;SZ[19];B[tt];W[])\n(;SZ[9];B[aa])")
    assert record.board_size == 19 and record.moves == ((Color.BLACK, 361), (Color.WHITE, 361))
    assert read_sgf("(;SZ[21];B[tt])").moves == ((Color.BLACK, 19 * 21 + 19),)  # a point above 19x19


def test_out_of_turn_moves_and_comments_on_empty_nodes():
    record = read_sgf("(;SZ[9]C[game];B[aa]C[one];C[after one];B[ba];;W[ca]PL[B])")
    assert record.moves == ((Color.BLACK, 0), (Color.BLACK, 1), (Color.WHITE, 2))
    assert dict(record.comments) == {0: "game", 1: "one\n\nafter one"}
    assert record.replay().stones()[0].tolist()[:3] == [1, 1, 2]


# ----------------------------------------------------------------------------- rejections


@pytest.mark.parametrize(("data", "message"), [
    (b"", r"no game tree"),
    (b"\x89PNG\r\n\x1a\n not an sgf", r"no game tree"),
    (b"(;SZ[9]\n;B[aa]\n;W[bb]!!)", r"at byte 21 \(line 3, column 7\): unexpected '!!\)'"),
    (b"(;SZ[9];B[aa];W[b", r"at byte 15 \(line 1, column 16\): unterminated property value"),
    (b"(;SZ[9];B[aa]", r"at byte 13 \(line 1, column 14\): unexpected end of data"),
    (b"(;SZ[9];B;W[aa])", r"at byte 8 .*property without a value"),
    (b"(;SZ[9];[aa])", r"at byte 8 .*value without a property name"),
    (b"(;B[aa](;W[bb]);B[cc])", r"at byte 15 .*node after a variation"),
])
def test_syntax_errors_give_the_position(data, message):
    with pytest.raises(SgfError, match=r"SGF syntax error " + message if data.startswith(b"(") else message):
        read_sgf(data)


def test_truncated_fixture_gives_the_position():
    data = (DATA / "gnugo_19x19.sgf").read_bytes()
    cut = data.index(b";W[", len(data) // 2)
    line = data.count(b"\n", 0, cut) + 1
    with pytest.raises(SgfError, match=rf"at byte {cut} \(line {line}, column \d+\): unexpected end of data"):
        read_sgf(data[:cut])
    with pytest.raises(SgfError, match=rf"at byte {cut + 2} \(line {line}, .*unterminated property value"):
        read_sgf(data[:cut + 4])


@pytest.mark.parametrize(("sgf", "message"), [
    ("(;GM[2])", r"node 0, property GM: game '2' is not Go"),
    ("(;SZ[abc])", r"node 0, property SZ: 'abc' is not a board size"),
    ("(;SZ[30])", r"node 0, property SZ: .*between 2 and 25, got 30"),
    ("(;SZ[1])", r"node 0, property SZ: .*got 1"),
    ("(;SZ[19:13])", r"node 0, property SZ: rectangular boards \(19:13\)"),
    ("(;KM[x])", r"node 0, property KM: 'x' is not a number"),
    ("(;KM[nan])", r"node 0, property KM: 'nan' is not a number"),
    ("(;KM[7.3])", r"node 0, property KM: .*multiple of 0.5.*7.3"),
    ("(;RU[Ing goe])", r"node 0, property RU: unknown rules"),
    ("(;RE[B+x])", r"node 0, property RE: 'B\+x' is not an SGF result"),
    ("(;RE[Black wins])", r"node 0, property RE: 'Black wins'"),
    ("(;HA[two])", r"node 0, property HA: 'two'"),
    ("(;HA[²])", r"node 0, property HA: '²'"),  # str.isdigit() is true, int() would fail
    ("(;SZ[9];B[aa];W[zz])", r"node 2, property W: .*'zz' is off a 9x9 board"),
    ("(;SZ[9];B[a])", r"node 1, property B: 'a' is not an SGF point"),
    ("(;SZ[9];B[aa][bb])", r"node 1, property B: a move has one value, got 2"),
    ("(;SZ[9];B[aa]W[bb])", r"node 1, properties B and W: a node holds at most one move"),
    ("(;SZ[9]AB[aa]AW[aa])", r"node 0, property AW: 'aa' is set up twice"),
    ("(;SZ[9]AB[tt])", r"node 0, property AB: 'tt' is a pass, not a point"),
    ("(;SZ[9]AB[aa:zz])", r"node 0, property AB: .*'zz' is off a 9x9 board"),
    ("(;SZ[9]AE[aa])", r"node 0, property AE: removing stones is not supported"),
    ("(;SZ[9]PL[x])", r"node 0, property PL: 'x' is not a colour"),
    # Sabaki's edit mode adds stones mid-game (a node `PL[B]AB[..]`): not replayable as a record
    ("(;SZ[19];B[pg];W[qi];PL[B]AB[qk][ok];B[pm])", r"node 3, property AB: setup stones after move 2"),
])
def test_bad_properties_name_node_and_property(sgf, message):
    with pytest.raises(SgfError, match=message):
        read_sgf(sgf)


@pytest.mark.parametrize(("sgf", "message"), [
    ("(;SZ[9];B[aa];W[bb];B[aa])", r"move 3 \(B A9\): illegal: occupied"),
    ("(;SZ[9]RU[Chinese]AB[ba][ab];W[aa])", r"move 1 \(W A9\): illegal: suicide"),
    ("(;SZ[9]RU[Japanese]AB[ba][ab][bc]AW[ca][bb][db][cc];B[cb];W[bb])", r"move 2 \(W B8\): illegal: ko"),
    ("(;SZ[9]AB[aa]AW[ba][ab])", r"AB/AW: setup stone white A8 would leave an opponent chain without liberties"),  # setup never captures
    ("(;SZ[9];B[aa];W[];B[];W[bb])", r"move 4 \(W B8\): illegal: game over"),
])
def test_illegal_moves_are_named_on_replay(sgf, message):
    record = read_sgf(sgf)  # reading does not play the moves: the record is still inspectable
    with pytest.raises(SgfError, match=message):
        record.replay()


def test_suicide_is_legal_where_the_rules_allow_it():
    sgf = "(;SZ[9]RU[{}]AW[aa]AB[ca][ab][bb];W[ba])"  # White's two stones would have no liberty
    assert read_sgf(sgf.format("tromp-taylor")).replay().stones()[0, :2].tolist() == [0, 0]  # both removed
    with pytest.raises(SgfError, match=r"move 1 \(W B9\): illegal: suicide"):
        read_sgf(sgf.format("Chinese")).replay()


@settings(max_examples=300, deadline=None)
@given(insert=st.binary(max_size=30), at=st.integers(0, 460), cut=st.integers(0, 8))
def test_damaged_files_raise_only_sgf_error(insert, at, cut):
    data = (DATA / "gnugo_13x13_handicap.sgf").read_bytes()
    try:
        read_sgf(data[:at] + insert + data[at + cut:]).replay()
    except SgfError:
        pass  # any other exception type fails the test


def test_read_sgf_file_errors_name_the_file(tmp_path):
    path = tmp_path / "bad.sgf"
    path.write_bytes(b"(;SZ[9];W[zz])")
    with pytest.raises(SgfError, match=r"bad\.sgf: node 1, property W"):
        read_sgf_file(path)


@pytest.mark.parametrize(("fields", "message"), [
    (dict(board_size=30), r"between 2 and 25"),
    (dict(result="B+x"), r"result: 'B\+x' is not an SGF result"),
    (dict(setup_black=(81,)), r"setup_black: pass is not a free point"),
    (dict(setup_black=(3,), setup_white=(3,)), r"setup_white: D9 is not a free point"),
    (dict(moves=((Color.BLACK, 82),)), r"moves: move 82 is off a 9x9 board"),
    (dict(moves=((Color.BLACK, 0),), comments={2: "x"}), r"comments: key 2"),
    (dict(rules_text="Japanese"), r"rules_text 'Japanese' means"),
    (dict(handicap=-1), r"handicap"),
])
def test_record_validation(fields, message):
    with pytest.raises(SgfError, match=message):
        GameRecord(**{"board_size": 9, "rules": Rules(), **fields})


def test_record_is_a_value_that_pickles():
    record = read_sgf_file(DATA / "katago_19x19.sgf")
    assert pickle.loads(pickle.dumps(record)) == record  # records travel between worker processes
    assert copy.deepcopy(record) == record
    with pytest.raises(TypeError, match="read-only"):
        record.comments[1] = "changed"
    assert dataclasses.replace(record, comments={1: "changed"}).comments == {1: "changed"}


def test_record_normalizes_like_sgf_and_is_hashable():
    record = GameRecord(board_size=9, rules=Rules(), black="two\nlines", result="Draw",
                        moves=[(1, 40)], comments={1: "tab\there\r\nnext"})
    assert record.black == "two lines" and record.result == "0" and record.moves == ((Color.BLACK, 40),)
    assert record.comments[1] == "tab here\nnext" and record.rules_text == "tromp-taylor"
    assert hash(record) == hash(read_sgf(write_sgf(record)))
