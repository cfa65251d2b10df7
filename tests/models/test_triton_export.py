"""Triton model repository export: both flavours' config.pbtxt from one spec, files, atomicity.

Configs are parsed with Triton's own ModelConfig protobuf (shipped in tritonclient), so a field
Triton would reject fails here too. No server is started: tests/evaluators/test_triton.py
loads the CPU flavour into a real one.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from google.protobuf import text_format
from torch import nn
from tritonclient.grpc import model_config_pb2

from models.network import NetworkConfig, PolicyValueNet
from models.triton_export import (
    TritonModelSpec,
    export_to_repository,
    render_config,
    render_python_model,
    script_network,
)
from search_workers.evaluators.triton import INPUT_FEATURES, OUTPUT_POLICY_LOGITS, OUTPUT_VALUE

SPEC = TritonModelSpec("go9", 9, max_batch_size=128, preferred_batch_sizes=(32, 128),
                       max_queue_delay_microseconds=750, instance_count=2, version=3)


def parse(text: str) -> model_config_pb2.ModelConfig:
    return text_format.Parse(text, model_config_pb2.ModelConfig())


@pytest.fixture(scope="module")
def net() -> PolicyValueNet:
    torch.manual_seed(0)
    return PolicyValueNet(NetworkConfig(blocks=1, channels=8, value_hidden=8)).eval()


def test_both_flavours_share_everything_but_backend_and_device() -> None:
    gpu, cpu = parse(render_config(SPEC, "gpu")), parse(render_config(SPEC, "cpu"))
    assert (gpu.name, cpu.name) == ("go9", "go9_cpu")
    assert (gpu.platform, gpu.backend) == ("pytorch_libtorch", "")
    assert (cpu.platform, cpu.backend) == ("", "python")
    kind = model_config_pb2.ModelInstanceGroup.Kind
    assert [(g.kind, g.count) for g in gpu.instance_group] == [(kind.KIND_GPU, 2)]
    assert [(g.kind, g.count) for g in cpu.instance_group] == [(kind.KIND_CPU, 2)]
    for config in (gpu, cpu):
        assert config.max_batch_size == 128
        assert list(config.dynamic_batching.preferred_batch_size) == [32, 128]
        assert config.dynamic_batching.max_queue_delay_microseconds == 750
        assert [(t.name, t.data_type, list(t.dims)) for t in config.input] == [
            (INPUT_FEATURES, model_config_pb2.TYPE_FP32, [17, 9, 9])]
        # libtorch binds these by config order: policy first, as the network returns them.
        assert [(t.name, t.data_type, list(t.dims)) for t in config.output] == [
            (OUTPUT_POLICY_LOGITS, model_config_pb2.TYPE_FP32, [82]),
            (OUTPUT_VALUE, model_config_pb2.TYPE_FP32, [1])]
        value = config.output[1]
        assert value.HasField("reshape") and list(value.reshape.shape) == []  # model makes [B], wire [B, 1]
        assert not config.output[0].HasField("reshape") and not config.input[0].HasField("reshape")
    assert gpu.parameters["INFERENCE_MODE"].string_value == "true"
    assert cpu.parameters["TORCH_NUM_THREADS"].string_value == "0"
    assert cpu.parameters["CPU_PASS_ROWS"].string_value == "0"  # measured when the instance loads


def test_config_follows_the_board_size_and_planes() -> None:
    config = parse(render_config(TritonModelSpec("g19", 19, input_planes=5, max_batch_size=8,
                                                 preferred_batch_sizes=()), "cpu"))
    assert list(config.input[0].dims) == [5, 19, 19]
    assert list(config.output[0].dims) == [362]
    assert list(config.dynamic_batching.preferred_batch_size) == []


@pytest.mark.parametrize("kwargs, message", [
    ({"name": "bad name"}, "model name"),
    ({"name": ".hidden"}, "model name"),
    ({"board_size": 1}, "board_size"),
    ({"max_batch_size": 0}, "max_batch_size"),
    ({"preferred_batch_sizes": (512,)}, "preferred_batch_sizes"),
    ({"preferred_batch_sizes": (64, 8)}, "preferred_batch_sizes"),
    ({"instance_count": 0}, "instance_count"),
    ({"version": 0}, "version"),
    ({"cpu_pass_rows": -1}, "cpu_pass_rows"),
])
def test_spec_rejects_bad_values(kwargs: dict, message: str) -> None:
    fields = {"name": "go9", "board_size": 9, **kwargs}
    with pytest.raises(ValueError, match=message):
        TritonModelSpec(**fields)


def test_python_model_uses_the_wire_names_and_compiles() -> None:
    source = render_python_model(SPEC)
    compile(source, "model.py", "exec")
    for name in (INPUT_FEATURES, OUTPUT_POLICY_LOGITS, OUTPUT_VALUE):
        assert f'"{name}"' in source
    assert "torch.set_num_threads" in source and "inference_mode" in source
    # The model process cannot import the project: the batch measuring is copied in whole.
    assert "def fastest_rows(" in source and "def forward_in_pieces(" in source
    assert "forward_in_pieces(self.module" in source


@pytest.mark.filterwarnings("ignore:.*torch.jit.load:DeprecationWarning")
def test_export_writes_both_flavours_with_the_same_torchscript(tmp_path: Path, net: PolicyValueNet) -> None:
    written = export_to_repository(net, SPEC, tmp_path)
    assert written == [tmp_path / "go9", tmp_path / "go9_cpu"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["go9", "go9_cpu"]  # no staging left behind
    assert sorted(p.name for p in (tmp_path / "go9").iterdir()) == ["3", "config.pbtxt"]
    assert sorted(p.name for p in (tmp_path / "go9" / "3").iterdir()) == ["model.pt"]
    assert sorted(p.name for p in (tmp_path / "go9_cpu" / "3").iterdir()) == ["model.pt", "model.py"]
    for path in (tmp_path / "go9", tmp_path / "go9" / "3", tmp_path / "go9_cpu" / "3" / "model.py"):
        assert path.stat().st_mode & 0o004, f"{path} is not readable by a server running as another user"
    assert (tmp_path / "go9" / "config.pbtxt").read_text() == render_config(SPEC, "gpu")
    assert (tmp_path / "go9_cpu" / "config.pbtxt").read_text() == render_config(SPEC, "cpu")
    features = torch.zeros(3, 17, 9, 9)
    features[:, 0] = 1.0
    features[1, 1, 4, 4] = 1.0
    with torch.inference_mode():
        expected = net(features)
        for flavour in ("go9", "go9_cpu"):
            loaded = torch.jit.load(str(tmp_path / flavour / "3" / "model.pt"))
            # The libtorch backend binds the input by this argument name.
            assert [a.name for a in loaded.forward.schema.arguments[1:]] == [INPUT_FEATURES]
            got = loaded(features)
            for a, b in zip(got, expected, strict=True):
                np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=0, atol=1e-6)


def test_export_refuses_to_overwrite_a_version_unless_asked(tmp_path: Path, net: PolicyValueNet) -> None:
    export_to_repository(net, SPEC, tmp_path, ("cpu",))
    model_pt = tmp_path / "go9_cpu" / "3" / "model.pt"
    before = model_pt.read_bytes()
    with pytest.raises(FileExistsError, match="overwrite=True"):
        export_to_repository(net, SPEC, tmp_path)
    assert not (tmp_path / "go9").exists()  # refused before writing anything
    torch.manual_seed(1)
    other = PolicyValueNet(NetworkConfig(blocks=1, channels=8, value_hidden=8)).eval()
    export_to_repository(other, SPEC, tmp_path, ("cpu",), overwrite=True)
    assert model_pt.read_bytes() != before
    assert sorted(p.name for p in (tmp_path / "go9_cpu").iterdir()) == ["3", "config.pbtxt"]


def test_new_version_is_added_beside_the_old_one(tmp_path: Path, net: PolicyValueNet) -> None:
    export_to_repository(net, SPEC, tmp_path, ("gpu",))
    newer = TritonModelSpec("go9", 9, max_batch_size=64, preferred_batch_sizes=(64,), version=4)
    export_to_repository(net, newer, tmp_path, ("gpu",))
    assert sorted(p.name for p in (tmp_path / "go9").iterdir()) == ["3", "4", "config.pbtxt"]
    assert parse((tmp_path / "go9" / "config.pbtxt").read_text()).max_batch_size == 64
    assert (tmp_path / "go9" / "config.pbtxt").stat().st_mode & 0o044 == 0o044  # rewritten via a temp file


def test_a_failed_export_leaves_nothing_behind(tmp_path: Path, net: PolicyValueNet,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_save(*args, **kwargs):
        raise OSError("disk full")

    export_to_repository(net, SPEC, tmp_path, ("gpu",))
    monkeypatch.setattr(torch.jit, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        export_to_repository(net, SPEC, tmp_path, ("cpu",))  # a new model directory
    with pytest.raises(OSError, match="disk full"):
        export_to_repository(net, SPEC, tmp_path, ("gpu",), overwrite=True)  # replacing a version
    assert sorted(p.name for p in tmp_path.iterdir()) == ["go9"]
    assert sorted(p.name for p in (tmp_path / "go9").iterdir()) == ["3", "config.pbtxt"]
    assert (tmp_path / "go9" / "3" / "model.pt").stat().st_size > 0


def test_export_checks_the_network_against_the_spec(net: PolicyValueNet) -> None:
    with pytest.raises(ValueError, match="input_planes"):
        script_network(net, TritonModelSpec("go9", 9, input_planes=5, max_batch_size=8, preferred_batch_sizes=()))

    class Renamed(nn.Module):
        def __init__(self, inner: nn.Module):
            super().__init__()
            self.inner = inner

        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            return self.inner(x)

    with pytest.raises(ValueError, match="named 'features'"):
        script_network(Renamed(net), SPEC)


@pytest.mark.filterwarnings("ignore:.*torch.jit.load:DeprecationWarning")
def test_a_loaded_checkpoint_exports_as_is(tmp_path: Path, net: PolicyValueNet) -> None:
    from models.checkpoint import load_checkpoint, save_checkpoint

    manifest = save_checkpoint(net, tmp_path / "checkpoints", "tiny", board_sizes=[9], training_step=0,
                               run_name="test")
    loaded = load_checkpoint(manifest)
    spec = TritonModelSpec(loaded.manifest.name, 9, max_batch_size=8, preferred_batch_sizes=())
    export_to_repository(loaded.module, spec, tmp_path / "repository", ("gpu",))
    features = torch.zeros(2, 17, 9, 9)
    features[:, 0] = 1.0
    features[0, 1, 2, 3] = 1.0
    with torch.inference_mode():
        exported = torch.jit.load(str(tmp_path / "repository" / "tiny" / "1" / "model.pt"))
        for a, b in zip(exported(features), loaded.module(features), strict=True):
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=0, atol=1e-6)


def test_unscriptable_modules_are_refused_clearly() -> None:
    class Dynamic(nn.Module):
        def forward(self, features):
            return {"policy": features.flatten(1), "value": features.mean((1, 2, 3))}[features.dtype]

    with pytest.raises(ValueError, match="cannot be compiled to TorchScript"):
        script_network(Dynamic(), SPEC)
