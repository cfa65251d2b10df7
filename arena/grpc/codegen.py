"""Generate the Python code of `proto/arena/v1/arena.proto` into `arena/grpc/generated/`.

    python -m arena.grpc.codegen          # what `make proto` runs

The generated files are committed (so the server runs without grpcio-tools) and a test
regenerates them to check they are current. protoc writes `from arena.v1 import arena_pb2`,
which would resolve against this project's own `arena` package; it is rewritten to a relative
import so the files import as the package `arena.grpc.generated`. The output depends on the
grpcio-tools version (pinned in the `test` extra); the protobuf runtime must be at least the
version named in `arena_pb2.py`.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROTO_ROOT = ROOT / "proto"
PROTO = "arena/v1/arena.proto"
GENERATED = Path(__file__).resolve().parent / "generated"
FILES = ("arena_pb2.py", "arena_pb2.pyi", "arena_pb2_grpc.py")

_ABSOLUTE = "from arena.v1 import arena_pb2 as"
_RELATIVE = "from . import arena_pb2 as"


def generate(out_dir: Path = GENERATED) -> list[Path]:
    """Run protoc (grpcio-tools) on the proto and write FILES into `out_dir`; their paths."""
    import grpc_tools
    from grpc_tools import protoc

    includes = Path(grpc_tools.__file__).parent / "_proto"  # google/protobuf/*.proto
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as temp:
        status = protoc.main(["grpc_tools.protoc", f"-I{PROTO_ROOT}", f"-I{includes}", f"--python_out={temp}",
                              f"--pyi_out={temp}", f"--grpc_python_out={temp}", str(PROTO_ROOT / PROTO)])
        if status != 0:
            raise RuntimeError(f"protoc failed on {PROTO_ROOT / PROTO} (exit status {status})")
        written = []
        for name in FILES:
            text = (Path(temp) / Path(PROTO).parent / name).read_text(encoding="utf-8")
            target = out_dir / name
            target.write_text(text.replace(_ABSOLUTE, _RELATIVE), encoding="utf-8")
            written.append(target)
    return written


if __name__ == "__main__":
    for path in generate():
        print(path.relative_to(ROOT))
