"""A free TCP port on loopback, for the servers the arena starts itself (a local Triton, the API
under `arena bench api`) and for tests. The port is free when asked; a server that binds it later
can still lose it to another process, which its start-up then reports."""

from __future__ import annotations

import socket

__all__ = ["free_port"]


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]
