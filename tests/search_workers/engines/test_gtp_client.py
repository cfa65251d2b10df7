"""The production GTP client against the scripted fake engine: replies, failures, deadlines, stderr."""

from __future__ import annotations

import sys
import time

import pytest

from search_workers.engines.gtp import (MAX_RESPONSE_BYTES, RESIGN, BoundedLog, GtpClient, GtpCrash, GtpEngineError,
                                        GtpFailure, GtpProtocolError, GtpTimeout)
from search_workers.go import Color, coords
from tests.support.fake_engines import FAKE_GTP


def fake(*options: str, **kwargs) -> GtpClient:
    kwargs.setdefault("timeout", 5.0)
    kwargs.setdefault("genmove_timeout", 0.5)
    return GtpClient([sys.executable, str(FAKE_GTP), *options], **kwargs)


def test_standard_commands() -> None:
    with fake("--name", "Scripted", "--version", "4.2") as gtp:
        assert gtp.protocol_version() == 2
        assert (gtp.name(), gtp.version()) == ("Scripted", "4.2")
        assert gtp.known_command("genmove") and not gtp.known_command("kata-set-rules")
        gtp.boardsize(9)
        gtp.komi(6.5)
        gtp.clear_board()
        gtp.play(Color.BLACK, coords.from_gtp("E5", 9))
        move = gtp.genmove(Color.WHITE)
        assert coords.to_gtp(move, 9) == "A9"  # the fake plays the first legal point in reading order


@pytest.mark.parametrize("reply, expected", [("resign", RESIGN), ("Resign", RESIGN), ("PaSs", 81), ("d4", 48),
                                              ("J9", 8)])
def test_genmove_replies_are_parsed_in_any_case(reply: str, expected: int) -> None:
    with fake("--genmove-reply", reply) as gtp:
        gtp.boardsize(9)
        assert gtp.genmove(Color.BLACK) == expected


@pytest.mark.parametrize("reply", ["banana", "Z99", "K10"])
def test_an_unparsable_move_is_a_protocol_error(reply: str) -> None:
    with fake("--genmove-reply", reply) as gtp:
        gtp.boardsize(9)
        with pytest.raises(GtpProtocolError, match="not a move"):
            gtp.genmove(Color.BLACK)
        assert not gtp.usable


def test_a_failure_reply_leaves_the_engine_usable() -> None:
    with fake() as gtp:
        gtp.boardsize(9)
        gtp.play(Color.BLACK, 40)
        with pytest.raises(GtpFailure, match="illegal move") as failure:
            gtp.play(Color.WHITE, 40)
        assert failure.value.text == "illegal move"
        assert gtp.usable and gtp.name() == "FakeGTP"


def test_a_crash_reports_exit_code_and_stderr() -> None:
    with fake("--crash-at", "1") as gtp:
        with pytest.raises(GtpCrash, match=r"exit code 3\)") as crash:
            gtp.genmove(Color.BLACK)
        assert crash.value.exit_code == 3
        assert "crashing at move 1" in str(crash.value)
        assert "crashing at move 1" in gtp.stderr_tail()
        with pytest.raises(GtpEngineError, match="unusable"):
            gtp.name()


def test_a_hang_times_out_on_the_genmove_deadline() -> None:
    with fake("--hang-at", "1", timeout=30.0, genmove_timeout=0.3) as gtp:
        started = time.monotonic()
        with pytest.raises(GtpTimeout, match="no complete response to 'genmove black' within 0.3 s"):
            gtp.genmove(Color.BLACK)
        assert time.monotonic() - started < 5


def test_an_engine_writing_without_end_is_cut_at_the_size_limit() -> None:
    """The deadline was checked only when nothing came: an engine writing output without end
    was read for ever (27 MB after 12 s), its buffer growing and searched again each chunk."""
    with fake("--spew-at", "1", timeout=30.0, genmove_timeout=30.0) as gtp:
        started = time.monotonic()
        with pytest.raises(GtpProtocolError, match=f"over {MAX_RESPONSE_BYTES} bytes"):
            gtp.genmove(Color.BLACK)
        assert time.monotonic() - started < 10 and not gtp.usable


def test_an_engine_whose_output_keeps_dripping_times_out_on_the_deadline() -> None:
    with fake("--drip-at", "1", timeout=30.0, genmove_timeout=0.5) as gtp:
        started = time.monotonic()
        with pytest.raises(GtpTimeout, match="no complete response to 'genmove black' within 0.5 s"):
            gtp.genmove(Color.BLACK)
        assert time.monotonic() - started < 5


def test_a_missing_program_cannot_start() -> None:
    with pytest.raises(GtpCrash, match="cannot start"):
        GtpClient(["/nonexistent/engine", "--gtp"])


def test_final_status_list_reads_every_vertex() -> None:
    with fake("--dead", "A1,b2,J9") as gtp:
        gtp.boardsize(9)
        assert gtp.final_status_list("dead") == [72, 64, 8]


def test_stderr_keeps_only_the_tail() -> None:
    log = BoundedLog(limit=10)
    log.append(b"0123456789")
    log.append(b"abc")
    assert log.text() == "3456789abc"
    assert log.take() == b"3456789abc" and log.text() == ""
