"""A TCP port that takes connections and never answers: a server whose host died or was cut off
by a partition (no reset ever arrives), for the network-timeout tests."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port whose kernel completes every TCP handshake, while nothing ever reads or answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield listener.getsockname()[1]
