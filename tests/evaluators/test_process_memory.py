"""keep_freed_memory: a batch's freed buffers stay with the process, so the next batch takes no
page faults for them."""

from __future__ import annotations

import subprocess
import sys
import textwrap

# In a fresh interpreter (the settings last for the process): rounds of six 4 MB buffers alive
# at once, written, then freed, like one forward pass's activations; prints the page faults the
# rounds after the first took.
PROBE = textwrap.dedent("""
    import resource, sys
    import numpy as np
    from search_workers.evaluators.process_memory import keep_freed_memory

    if sys.argv[1] == "keep":
        assert keep_freed_memory()

    def one_round():
        buffers = [np.empty(1 << 20, np.float32) for _ in range(6)]
        for buffer in buffers:
            buffer.fill(1.0)

    one_round()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(5):
        one_round()
    print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
""")
PAGES_PER_ROUND = 6 * (4 << 20) // 4096


def _page_faults(mode: str) -> int:
    out = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True)
    return int(out.stdout.strip())


def test_a_batchs_freed_buffers_are_reused_without_page_faults() -> None:
    assert _page_faults("default") >= PAGES_PER_ROUND  # glibc hands them back and maps them again (half of them, here)
    assert _page_faults("keep") < PAGES_PER_ROUND // 4  # kept by the process
