"""cpu_batches: the fastest CPU batch is found by timing, and larger batches run in equal pieces
with the same outputs as one pass."""

from __future__ import annotations

import pytest
import torch

from models.network import NetworkConfig, PolicyValueNet
from search_workers.evaluators import cpu_batches
from search_workers.evaluators.cpu_batches import fastest_rows, forward_in_pieces


class Clock:
    """A stand-in for `time` in cpu_batches: its clock moves only when the network says so."""

    def __init__(self) -> None:
        self.now = 0.0

    def perf_counter(self) -> float:
        return self.now


class CacheEdge:
    """A stand-in network whose cost a row jumps past `edge` rows, as a real one's does past the
    cache: `per_pass_s` a pass plus `per_row_s` a row up to the edge, three times that past it,
    so below the edge a larger batch costs less a row. It advances `clock` by that instead of
    running (exact on any machine), and records the batch sizes it was given."""

    def __init__(self, clock: Clock, edge: int, per_row_s: float = 40e-6, per_pass_s: float = 2e-3):
        self.clock, self.edge, self.per_row_s, self.per_pass_s = clock, edge, per_row_s, per_pass_s
        self.batches: list[int] = []

    def __call__(self, batch: torch.Tensor):
        rows = batch.shape[0]
        self.batches.append(rows)
        self.clock.now += self.per_pass_s + rows * self.per_row_s * (1 if rows <= self.edge else 3)
        return batch.sum(dim=(1, 2, 3)), batch[:, 0, 0, 0]


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(cpu_batches, "time", fake)
    return fake


def test_the_largest_size_before_the_edge_is_chosen(clock: Clock) -> None:
    # 64 rows: 71 us a row, 48: 82 us; 96, past the edge: 141 us.
    assert fastest_rows(CacheEdge(clock, edge=64), (2, 3, 3), max_rows=512) == 64
    # 16 rows: 52 us a row; 24, past the edge: 128 us.
    assert fastest_rows(CacheEdge(clock, edge=20, per_pass_s=2e-4), (2, 3, 3), max_rows=512) == 16


def test_probing_stops_past_the_edge_and_within_max_rows(clock: Clock) -> None:
    network = CacheEdge(clock, edge=32)
    assert fastest_rows(network, (2, 3, 3), max_rows=512) == 32
    assert max(network.batches) == 48, "one size past the edge is enough to see it"
    small = CacheEdge(clock, edge=1000)
    assert fastest_rows(small, (2, 3, 3), max_rows=40) == 40  # the largest batch allowed is measured too
    assert max(small.batches) == 40
    assert fastest_rows(CacheEdge(clock, edge=1000), (2, 3, 3), max_rows=5) == 5  # below every candidate
    huge = CacheEdge(clock, edge=1000)
    assert fastest_rows(huge, (2, 3, 3), max_rows=4096) == 512 and max(huge.batches) == 512


def test_a_network_too_slow_for_the_budget_stops_and_is_not_split_on_no_evidence(clock: Clock) -> None:
    slow = CacheEdge(clock, edge=1000, per_row_s=2e-3)  # 8 rows: 18 ms a pass
    assert fastest_rows(slow, (2, 3, 3), max_rows=256, budget_s=0.03) == 256  # one size measured: no split
    assert slow.batches == [8, 8], "the budget is checked after every pass (one untimed, one timed)"
    slower_edge = CacheEdge(clock, edge=1000, per_row_s=2e-3)
    assert fastest_rows(slower_edge, (2, 3, 3), max_rows=256, budget_s=0.1) == 16  # the best of those measured
    assert max(slower_edge.batches) == 16


def test_pieces_are_equal_and_give_the_same_outputs_as_one_pass() -> None:
    torch.manual_seed(0)
    net = PolicyValueNet(NetworkConfig(blocks=1, channels=8, value_hidden=8)).eval()
    batch = (torch.rand(100, 17, 9, 9) > 0.7).float()  # 0/1 planes, as features are
    sizes = []

    def forward(x: torch.Tensor):
        sizes.append(x.shape[0])
        return net(x)

    with torch.inference_mode():
        whole = net(batch)
        pieces = forward_in_pieces(forward, batch, 64)
        assert sizes == [50, 50]
        for a, b in zip(whole, pieces):
            torch.testing.assert_close(a, b, rtol=0, atol=1e-5)
        sizes.clear()
        forward_in_pieces(forward, batch[:64], 64)
        assert sizes == [64]  # at or below the size: one pass


@pytest.mark.parametrize("rows", [1, 7, 9, 33])
def test_every_row_comes_back_once_in_order(rows: int) -> None:
    batch = torch.arange(rows * 2.0).reshape(rows, 2, 1, 1)
    sums, firsts = forward_in_pieces(lambda x: (x.sum(dim=(1, 2, 3)), x[:, 0, 0, 0]), batch, 4)
    assert firsts.tolist() == batch[:, 0, 0, 0].tolist() and sums.shape == (rows,)
