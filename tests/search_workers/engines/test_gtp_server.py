"""GtpServer checked against GTP transcripts (fixtures/*.gtp), then with a real demo network."""

from __future__ import annotations

import io
import random
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from search_workers.engines.gtp_server import GtpServer
from search_workers.evaluators import UniformEvaluator
from search_workers.go import GameState, Rules, coords
from search_workers.search import SearchConfig

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@dataclass(frozen=True)
class Exchange:
    """One command of a transcript and what its answer must be."""

    line_number: int
    command: str
    answer: str | None  # the exact answer, closing blank line included; None: no answer at all
    pattern: str | None = None  # or a regular expression the answer (without the blank line) matches


def read_transcript(path: Path) -> list[Exchange]:
    """Parse the fixture format described at the top of each .gtp file."""
    exchanges: list[Exchange] = []
    current: tuple[int, str] | None = None
    answer: list[str] = []
    pattern: str | None = None

    def flush() -> None:
        if current is not None:
            text = "\n".join(answer) + "\n\n" if answer else None
            exchanges.append(Exchange(current[0], current[1], text, pattern))

    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.startswith("> ") or line == ">":
            flush()
            current, answer, pattern = (number, line[2:]), [], None
        elif line.startswith("< ") or line == "<":
            answer.append(line[2:])
        elif line.startswith("~ "):
            pattern = line[2:]
        elif line.strip() and not line.startswith(";"):
            raise ValueError(f"{path.name}:{number}: unexpected line {line!r}")
    flush()
    return exchanges


def uniform_server(**kwargs) -> GtpServer:
    evaluators = {5: UniformEvaluator(5), 9: UniformEvaluator(9)}
    return GtpServer(evaluators, SearchConfig(visits=16), name="Go Arena", version="test", board_size=5, **kwargs)


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.gtp")), ids=lambda p: p.name)
def test_transcript(path: Path) -> None:
    server = uniform_server()
    for exchange in read_transcript(path):
        got = server.handle(exchange.command)
        where = f"{path.name}:{exchange.line_number}: {exchange.command!r}"
        if exchange.pattern is not None:
            assert got is not None and got.endswith("\n\n"), where
            assert re.fullmatch(exchange.pattern, got[:-2]), f"{where} answered {got!r}"
        else:
            assert got == exchange.answer, where
    assert server.finished, "the transcript ends with quit"


def test_serve_answers_until_quit_and_ignores_the_rest() -> None:
    server = uniform_server()
    stdin = io.StringIO("1 boardsize 5\r\n\n# comment\n2 genmove b\n3 quit\n4 name\n")
    stdout = io.StringIO()
    server.serve(stdin, stdout)
    assert stdout.getvalue() == "=1\n\n=2 A5\n\n=3\n\n"


def test_control_characters_are_dropped() -> None:
    assert uniform_server().handle("7 na\x01me\x7f\r\n") == "=7 Go Arena\n\n"


def test_list_commands_names_every_known_command() -> None:
    server = uniform_server()
    listed = server.handle("list_commands")[2:-2].split("\n")
    required = {"protocol_version", "name", "version", "known_command", "list_commands", "quit", "boardsize",
                "clear_board", "komi", "play", "genmove", "undo", "final_score", "final_status_list", "showboard",
                "time_settings", "time_left"}
    assert required <= set(listed)
    assert all(server.handle(f"known_command {name}") == "= true\n\n" for name in listed)


def test_no_input_crashes_the_server() -> None:
    """Random garbage and mangled commands: every answer is a well-framed = or ?."""
    server = uniform_server()
    rng = random.Random(3)
    words = ["play", "genmove", "undo", "boardsize", "komi", "b", "w", "pass", "A1", "E5", "Z99", "-1", "5", "9",
             "1e400", "nan", "inf", "final_status_list", "alive", "kata-set-rules", "koSIMPLE", "time_left", "é",
             "showboard", "final_score", "clear_board", "reg_genmove", "\x00", "#", "\t", "12"]
    for _ in range(1500):
        line = " ".join(rng.choice(words) for _ in range(rng.randint(0, 4)))
        answer = server.handle(line)
        assert answer is None or re.fullmatch(r"[=?][0-9]*( [^\n]*(\n[^\n]+)*)?\n\n", answer), (line, answer)
        if server.finished:
            break
    assert "internal error" not in (server.handle("showboard") or "")


class BrokenEvaluator(UniformEvaluator):
    def evaluate(self, features: np.ndarray, legal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raise RuntimeError("the GPU fell over")


def test_an_error_of_ours_is_a_failure_answer_not_a_crash() -> None:
    server = GtpServer({5: BrokenEvaluator(5)}, SearchConfig(visits=4))
    assert server.handle("1 genmove b") == "?1 internal error: RuntimeError: the GPU fell over\n\n"
    assert server.handle("2 play b C3") == "=2\n\n"  # the session goes on


def test_tree_is_reused_when_the_game_continues() -> None:
    server = uniform_server()
    server.handle("genmove b")
    server.handle("genmove w")
    search = server._searches[5]
    before = search.evaluations
    server.handle("genmove b")
    # White's move was its search's most visited child: its subtree is reused, so this search
    # needs fewer than `visits` new evaluations.
    assert 0 < search.evaluations - before < server.config.visits


def test_a_game_with_the_demo_network(demo_evaluator) -> None:
    """A real network at low visits plays legal moves for both colours, ending in a score."""
    server = GtpServer({9: demo_evaluator}, SearchConfig(visits=4, seed=1), rules=Rules.preset("chinese"))
    replay = GameState.new(9, Rules.preset("chinese"))
    for turn in range(16):
        color = "bw"[turn % 2]
        answer = server.handle(f"{turn} genmove {color}")
        match = re.fullmatch(rf"={turn} (\S+)\n\n", answer)
        assert match, answer
        if match[1] == "resign":
            break
        replay = replay.play(coords.from_gtp(match[1], 9))  # legal for our rules, or this raises
    assert server.state == replay
    assert re.fullmatch(r"= (B\+|W\+)?[0-9.]+\n\n", server.handle("final_score"))


@pytest.fixture(scope="module")
def demo_evaluator():
    from models.checkpoint import load_checkpoint
    from models.demo import newest_demo_manifest
    from search_workers.evaluators import TorchEvaluator

    loaded = load_checkpoint(newest_demo_manifest())
    return TorchEvaluator(loaded.module, board_size=9, device="cpu")
