"""Keep freed heap memory in the process for the next batch instead of handing it back.

A worker allocates the same few large buffers again and again: a batch's feature planes, the
bytes of a gRPC request and its copies (9x9: 176 KB for 32 rows; 19x19: 1.6 MB for 64), a
network's activations. Each is above glibc's mmap threshold (128 KB until a freed mapping
raises it) or, freed at the top of the heap, above its trim threshold, so by default the
memory goes back to the kernel when the request is done and the next request maps it again,
page-faulting and zeroing every page. Measured through Triton (docs/benchmarks.md): a 64-row
19x19 request cost its client 3.4 ms of CPU, 1.4-1.6 ms with these settings; a model process
doing only forward passes took 170 us a row, 87 with them. The same settings are written into
the Triton Python-backend model (models/triton_export.py), which cannot import this module.
"""

from __future__ import annotations

import ctypes
import ctypes.util

# glibc's mallopt parameters.
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
# Allocations up to this size come from the heap, reused once freed (glibc's own dynamic limit is 32 MB).
MMAP_THRESHOLD = 64 << 20
# Free memory at the top of the heap up to this much stays with the process.
TRIM_THRESHOLD = 128 << 20


def keep_freed_memory() -> bool:
    """Set this process's malloc thresholds; False where the C library is not glibc (nothing set)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
        mapped = libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
        return mapped and libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
    except (OSError, AttributeError):  # no libc by that name, or no mallopt in it (musl)
        return False
