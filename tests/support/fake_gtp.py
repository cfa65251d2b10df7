"""A scripted GTP engine for tests, run as a real subprocess: `python tests/support/fake_gtp.py [options]`.

It keeps its own small board (captures, simple ko, Tromp-Taylor suicide; deliberately not
our `GameState`, so that a disagreement between the two shows) and plays the first legal
point in reading order that does not fill its own eye, or passes. Faults are triggered when
it is asked `genmove` for move number K (moves on its board since clear_board, plus one):

  --crash-at K        write a last word to stderr and exit with code 3
  --hang-at K         never answer
  --spew-at K         start an answer and never end it: output without end, no blank line
  --drip-at K         the same, a byte every 10 ms (output keeps coming, never too much at once)
  --garbage-at K      answer `= banana`
  --illegal-at K      answer an illegal move: --illegal-kind occupied (the last stone played)
                      or ko (retake the ko just taken)
  --once PATH         trigger the fault only if PATH does not exist, and create it: a restarted
                      engine then plays on, as a transiently failing one would
  --dump PATH         after every command, write its board as JSON (size, komi, moves, stones)
  --dead V,V,...      the answer to `final_status_list dead`
  --final-score T     the answer to `final_score` and `kata-raw-final-score` (unknown commands without it)
  --genmove-reply T   answer every genmove with T (to test how replies are parsed)
  --think S           sleep S seconds before answering each genmove (a slow engine)
  --name / --version  what it calls itself
  --nul               put a NUL character in its stderr and its version (PostgreSQL text cannot hold one)

Arguments it does not know are ignored, so a wrapper script can stand in for a preset's binary
(KataGo's `gtp -model ... -config ...`); with `--kata` it also accepts `kata-set-rules`, as KataGo does.
Only the standard library: it starts in milliseconds, so tests can restart it often.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

COLUMNS = "ABCDEFGHJKLMNOPQRSTUVWXYZ"


class Board:
    def __init__(self, size: int):
        self.size = size
        self.stones: dict[tuple[int, int], str] = {}  # (col, row from the bottom, 1-based) -> "b"/"w"
        self.moves: list[tuple[str, str]] = []
        self.ko: tuple[str, tuple[int, int]] | None = None  # (colour that may not retake, point)

    def parse(self, vertex: str) -> tuple[int, int] | None:
        vertex = vertex.upper()
        if vertex == "PASS":
            return None
        col, row = COLUMNS.index(vertex[0]) + 1, int(vertex[1:])
        if not (1 <= col <= self.size and 1 <= row <= self.size):
            raise ValueError(vertex)
        return col, row

    def vertex(self, point: tuple[int, int] | None) -> str:
        return "pass" if point is None else f"{COLUMNS[point[0] - 1]}{point[1]}"

    def neighbours(self, point: tuple[int, int]) -> list[tuple[int, int]]:
        col, row = point
        return [(c, r) for c, r in ((col - 1, row), (col + 1, row), (col, row - 1), (col, row + 1))
                if 1 <= c <= self.size and 1 <= r <= self.size]

    def chain(self, point, stones) -> tuple[set, set]:
        color, seen, liberties, todo = stones[point], {point}, set(), [point]
        while todo:
            for n in self.neighbours(todo.pop()):
                if n not in stones:
                    liberties.add(n)
                elif stones[n] == color and n not in seen:
                    seen.add(n)
                    todo.append(n)
        return seen, liberties

    def after(self, color: str, point: tuple[int, int]):
        """(stones, captured) after `color` plays `point`, or None if illegal."""
        if point in self.stones or self.ko == (color, point):
            return None
        stones = dict(self.stones)
        stones[point] = color
        captured: set = set()
        for n in self.neighbours(point):
            if stones.get(n) not in (None, color):
                group, liberties = self.chain(n, stones)
                if not liberties:
                    captured |= group
        for p in captured:
            del stones[p]
        group, liberties = self.chain(point, stones)
        if not liberties:
            if len(group) == 1:
                return None  # single-stone suicide is illegal everywhere
            for p in group:  # Tromp-Taylor: a multi-stone suicide removes the chain
                del stones[p]
        return stones, captured

    def play(self, color: str, vertex: str) -> bool:
        point = self.parse(vertex)
        self.moves.append((color, self.vertex(point)))
        if point is None:
            self.ko = None
            return True
        result = self.after(color, point)
        if result is None:
            self.moves.pop()
            return False
        stones, captured = result
        self.stones = stones
        group, liberties = self.chain(point, stones) if point in stones else (set(), set())
        self.ko = None
        if len(captured) == 1 and len(group) == 1 and len(liberties) == 1:
            self.ko = ("w" if color == "b" else "b", next(iter(captured)))
        return True

    def choose(self, color: str) -> tuple[int, int] | None:
        for row in range(self.size, 0, -1):
            for col in range(1, self.size + 1):
                point = (col, row)
                if all(self.stones.get(n) == color for n in self.neighbours(point)):
                    continue  # its own eye
                if self.after(color, point) is not None:
                    return point
        return None


def main() -> None:
    parser = argparse.ArgumentParser()
    for flag in ("--crash-at", "--hang-at", "--spew-at", "--drip-at", "--garbage-at", "--illegal-at"):
        parser.add_argument(flag, type=int)
    parser.add_argument("--illegal-kind", choices=("occupied", "ko"), default="occupied")
    parser.add_argument("--once")
    parser.add_argument("--dump")
    parser.add_argument("--dead", default="")
    parser.add_argument("--final-score")
    parser.add_argument("--kata", action="store_true")
    parser.add_argument("--genmove-reply")
    parser.add_argument("--think", type=float, default=0.0)
    parser.add_argument("--name", default="FakeGTP")
    parser.add_argument("--version", default="1.0")
    parser.add_argument("--nul", action="store_true")
    args, _ = parser.parse_known_args()
    if args.nul:
        args.version += "\x00"

    board, komi = Board(19), 7.5
    print(f"fake-gtp {os.getpid()} started" + ("\x00" if args.nul else ""), file=sys.stderr, flush=True)

    def fault(kind: str, move_number: int) -> bool:
        if getattr(args, kind) != move_number:
            return False
        if args.once:
            if os.path.exists(args.once):
                return False
            open(args.once, "w").close()
        return True

    def genmove(color: str) -> str:
        n = len(board.moves) + 1
        print(f"fake-gtp genmove {color} at move {n}", file=sys.stderr, flush=True)
        if fault("crash_at", n):
            print(f"fake-gtp: crashing at move {n}", file=sys.stderr, flush=True)
            os._exit(3)
        if fault("hang_at", n):
            time.sleep(3600)
        if fault("spew_at", n) or fault("drip_at", n):
            sys.stdout.write("= ")
            while True:
                sys.stdout.write("a" * (65536 if args.spew_at else 1))
                sys.stdout.flush()
                time.sleep(0 if args.spew_at else 0.01)
        if args.genmove_reply is not None:
            return args.genmove_reply
        if fault("garbage_at", n):
            return "banana"
        if fault("illegal_at", n):
            if args.illegal_kind == "ko":
                assert board.ko is not None and board.ko[0] == color, "no ko to retake"
                return board.vertex(board.ko[1])
            return next(v for c, v in reversed(board.moves) if v != "pass")
        vertex = board.vertex(board.choose(color))
        board.play(color, vertex)
        return vertex

    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        cid = words.pop(0) if words[0].isdigit() else ""
        command, rest = (words[0].lower(), words[1:]) if words else ("", [])
        ok, text = True, ""
        if command == "quit":
            print(f"={cid}\n", flush=True)
            return
        elif command == "protocol_version":
            text = "2"
        elif command == "name":
            text = args.name
        elif command == "version":
            text = args.version
        elif command == "known_command":
            text = "true" if rest and (rest[0] in KNOWN or args.kata and rest[0] == "kata-set-rules") else "false"
        elif command == "boardsize":
            board = Board(int(rest[0]))
        elif command == "clear_board":
            board = Board(board.size)
        elif command == "komi":
            komi = float(rest[0])
        elif command == "play":
            try:
                ok = board.play(rest[0][0].lower(), rest[1])
            except (ValueError, IndexError):
                ok = False
            text = "" if ok else "illegal move"
        elif command == "genmove":
            time.sleep(args.think)
            text = genmove(rest[0][0].lower())
        elif command in ("final_score", "kata-raw-final-score") and args.final_score is not None:
            text = args.final_score
        elif command == "kata-set-rules" and args.kata:
            text = ""
        elif command == "final_status_list":
            text = " ".join(args.dead.split(",")) if rest == ["dead"] else ""
        else:
            ok, text = False, "unknown command"
        if args.dump:
            state = {"size": board.size, "komi": komi, "moves": board.moves,
                     "black": sorted(board.vertex(p) for p, c in board.stones.items() if c == "b"),
                     "white": sorted(board.vertex(p) for p, c in board.stones.items() if c == "w")}
            with open(args.dump, "w") as out:
                json.dump(state, out)
        print(f"{'=' if ok else '?'}{cid} {text}".rstrip() + "\n", flush=True)


KNOWN = {"protocol_version", "name", "version", "known_command", "boardsize", "clear_board", "komi", "play",
         "genmove", "final_status_list", "quit"}

if __name__ == "__main__":
    main()
