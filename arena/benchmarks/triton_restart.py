"""A local tritonserver that can be stopped and started again on the same ports, for
`arena bench faults`: workers keep the gRPC address they were given, as they would keep a
production server's while it restarts."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

from arena.serving.local_triton import TritonServer

__all__ = ["RestartableTriton"]


class RestartableTriton(TritonServer):
    """`TritonServer` with `restart(down_s)`: the same ports, and no model loaded at start-up (a
    model gone missing; workers must load it again, as registration does). `inferences()` counts
    the requests its models answered, over every start."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._earlier_inferences = 0

    def restart(self, down_s: float) -> None:
        self._earlier_inferences += self._served()
        self.ports = (self.http_port, self.grpc_port, self.metrics_port)
        self.stop()
        time.sleep(down_s)
        self.models = ()
        self.start()

    def inferences(self) -> int:
        """Inference requests answered by every model, since the first start."""
        return self._earlier_inferences + self._served()

    def _served(self) -> int:
        """Inference requests answered since this start (Triton's statistics; 0 if it does not answer)."""
        try:
            with urllib.request.urlopen(self.http_url + "/v2/models/stats", timeout=5.0) as reply:
                stats = json.load(reply)
        except (urllib.error.URLError, OSError, ValueError):
            return 0
        return sum(int(m.get("inference_count", 0)) for m in stats.get("model_stats", []))
