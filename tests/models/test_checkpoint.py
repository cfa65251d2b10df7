"""The checkpoint format: round trips, every refusal naming its field or tensor, no unpickling.

Networks here are tiny (1-2 blocks, 16 channels) and test positions 9x9, so the whole file
runs in seconds on a shared 2-core machine.
"""

from __future__ import annotations

import json
import os
import pathlib
import pickle

import numpy as np
import pytest
import safetensors.torch
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from models.checkpoint import (
    CheckpointError,
    LoadedCheckpoint,
    load_checkpoint,
    register_checkpoint,
    sample_positions,
    save_checkpoint,
    sha256_file,
)
from models.manifest import read_manifest, validate_manifest
from models.network import NetworkConfig, PolicyValueNet
from search_workers.go import FEATURE_SET_VERSION

TINY = NetworkConfig(blocks=2, channels=16, value_hidden=16)


def tiny_net(config: NetworkConfig = TINY, seed: int = 0) -> PolicyValueNet:
    torch.manual_seed(seed)
    net = PolicyValueNet(config)
    # Non-trivial BatchNorm statistics, so a loader that dropped buffers would show.
    for module in net.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 1.5)
            module.num_batches_tracked.fill_(7)
    return net.eval()


def outputs(module, board_size: int = 9) -> tuple[torch.Tensor, torch.Tensor]:
    with torch.inference_mode():
        return module(torch.from_numpy(sample_positions(board_size)))


def edit_manifest(path: pathlib.Path, edit) -> None:
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))


def save(net: nn.Module, directory: pathlib.Path, name: str = "tiny", **kwargs) -> pathlib.Path:
    kwargs = {"board_sizes": [9], "training_step": 1200, "run_name": "unit", **kwargs}
    return save_checkpoint(net, directory, name, **kwargs)


# ------------------------------------------------------------------------- round trips

def test_round_trip_gives_identical_outputs_and_manifest(tmp_path):
    net = tiny_net()
    manifest_path = save(net, tmp_path, board_sizes=[9, 5], parent="ab" * 32, metadata={"lr": 0.01, "tags": ["a"]})
    assert manifest_path == tmp_path / "tiny.json"
    assert (tmp_path / "tiny.safetensors").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.json", "tiny.safetensors"]  # no temp files left

    loaded = load_checkpoint(manifest_path)
    assert isinstance(loaded, LoadedCheckpoint)
    assert loaded.sha256 == sha256_file(tmp_path / "tiny.safetensors") == loaded.manifest.weights_sha256
    assert loaded.board_sizes == (9, 5)
    assert loaded.config == TINY
    assert loaded.path == manifest_path
    m = loaded.manifest
    assert (m.format, m.training_step, m.run_name, m.parent) == ("safetensors", 1200, "unit", "ab" * 32)
    assert m.metadata == {"lr": 0.01, "tags": ["a"]}
    assert m.feature_set_version == FEATURE_SET_VERSION and m.architecture == TINY.to_dict()
    assert not loaded.module.training
    for size in (9, 5):
        for got, want in zip(outputs(loaded.module, size), outputs(net, size), strict=True):
            assert torch.equal(got, want)
    # The weights file names the same checkpoint as its manifest.
    assert load_checkpoint(tmp_path / "tiny.safetensors", verify=False).sha256 == loaded.sha256


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_weights_load_as_float32(tmp_path, dtype):
    net = tiny_net()
    halved = {k: (v.to(dtype) if v.is_floating_point() else v) for k, v in net.state_dict().items()}
    safetensors.torch.save_file(halved, tmp_path / "half.safetensors")
    register_checkpoint(tmp_path / "half.safetensors", format="safetensors", architecture=TINY,
                        board_sizes=[9], training_step=0, run_name="unit")
    loaded = load_checkpoint(tmp_path / "half.json")
    assert all(p.dtype == torch.float32 for p in loaded.module.parameters())
    reference = PolicyValueNet(TINY).eval()
    reference.load_state_dict({k: v.to(torch.float32) if v.is_floating_point() else v for k, v in halved.items()})
    for got, want in zip(outputs(loaded.module), outputs(reference), strict=True):
        assert torch.equal(got, want)


@pytest.mark.parametrize("wrap", ["flat", "model", "state_dict"])
def test_plain_pytorch_state_dict_loads(tmp_path, wrap):
    net = tiny_net()
    state = net.state_dict()
    obj = state if wrap == "flat" else {wrap: state, "step": 5, "optimizer_lr": 0.1}
    torch.save(obj, tmp_path / "plain.pt")
    register_checkpoint(tmp_path / "plain.pt", format="state_dict", architecture=TINY, board_sizes=[9],
                        training_step=5, run_name="unit")
    loaded = load_checkpoint(tmp_path / "plain.pt")
    assert loaded.manifest.format == "state_dict"
    for got, want in zip(outputs(loaded.module), outputs(net), strict=True):
        assert torch.equal(got, want)


def test_torchscript_export_of_the_network_loads_and_matches(tmp_path):
    net = tiny_net()
    torch.jit.script(net).save(str(tmp_path / "scripted.ts"))
    register_checkpoint(tmp_path / "scripted.ts", format="torchscript", board_sizes=[9, 7], training_step=3,
                        run_name="unit", allow_executable=True)
    loaded = load_checkpoint(tmp_path / "scripted.json", allow_executable=True)
    assert loaded.config is None
    assert loaded.manifest.architecture == {"input_planes": 17, "feature_set_version": FEATURE_SET_VERSION}
    for size in (9, 7):
        for got, want in zip(outputs(loaded.module, size), outputs(net, size), strict=True):
            torch.testing.assert_close(got, want)


class OwnArchitecture(nn.Module):
    """A user's network that is no PolicyValueNet but keeps the contract."""

    def __init__(self, fault: str = ""):
        super().__init__()
        self.conv = nn.Conv2d(17, 1, 1)
        self.fault = fault

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        board = self.conv(features).flatten(1)
        policy = torch.cat([board, board.mean(dim=1, keepdim=True)], dim=1)
        value = torch.tanh(board.mean(dim=1, keepdim=True))
        if self.fault == "value_shape":
            return policy, value
        if self.fault == "value_range":
            return policy, value.squeeze(1) * 0.0 + 1.5
        return policy, value.squeeze(1)


def test_own_architecture_registered_as_torchscript(tmp_path):
    torch.jit.script(OwnArchitecture()).save(str(tmp_path / "own.pt"))
    path = register_checkpoint(tmp_path / "own.pt", format="torchscript", board_sizes=[9], training_step=0,
                               run_name="unit", architecture={"input_planes": 17, "feature_set_version": 1,
                                                              "description": "one 1x1 conv"},
                               allow_executable=True)
    loaded = load_checkpoint(path, allow_executable=True)
    policy, value = outputs(loaded.module)
    assert policy.shape == (3, 82) and value.shape == (3,)


@pytest.mark.parametrize("fault, message", [
    ("value_shape", r"output value has shape \[3, 1\] on 9x9 test positions, expected \[3\]"),
    ("value_range", r"output value leaves \[-1, 1\] on 9x9 test positions \(\|value\| up to 1.5\)"),
])
def test_export_breaking_the_contract_is_refused_naming_the_output(tmp_path, fault, message):
    torch.jit.script(OwnArchitecture(fault)).save(str(tmp_path / "bad.pt"))
    with pytest.raises(CheckpointError, match=message):
        register_checkpoint(tmp_path / "bad.pt", format="torchscript", board_sizes=[9], training_step=0,
                            run_name="unit", allow_executable=True)
    assert not (tmp_path / "bad.json").exists()  # a refused registration leaves no manifest


# ------------------------------------------------------------------------- manifest refusals

@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> pathlib.Path:
    return save(tiny_net(), tmp_path_factory.mktemp("saved"))


def _drop(key):
    return lambda d: d.pop(key)


def _set(key, value):
    return lambda d: d.__setitem__(key, value)


@pytest.mark.parametrize("edit, field", [
    (_drop("training_step"), "manifest field training_step: Field required"),
    (_set("board_sizes", [9, 30]), r"manifest field board_sizes\[1\]: .*less than or equal to 25"),
    (_set("training_step", "many"), "manifest field training_step: .*integer"),
    (_set("training_step", -1), "manifest field training_step: .*greater than or equal to 0"),
    (_set("training_step", True), "manifest field training_step"),
    (_set("colour", "black"), "manifest field colour: Extra inputs are not permitted"),
    (_set("weights_file", "../tiny.safetensors"), "manifest field weights_file: must be a plain file name"),
    (_set("weights_file", "/etc/passwd"), "manifest field weights_file"),
    (_set("format", "pickle"), "manifest field format"),
    (_set("format_version", 2), "manifest field format_version: this code reads manifest format version 1"),
    (_set("parent", "not-a-hash"), "manifest field parent: must be 64 lowercase hexadecimal"),
    (_set("created", "yesterday"), "manifest field created: must be an ISO 8601 time"),
    (_set("metadata", ["a"]), "manifest field metadata"),
    (lambda d: d["architecture"].__setitem__("channels", "wide"), "manifest field architecture: network channels"),
    (lambda d: d["architecture"].pop("blocks"), r"manifest field architecture: .*missing \['blocks'\]"),
])
def test_manifest_errors_name_the_field(saved, tmp_path, edit, field):
    manifest = tmp_path / "tiny.json"
    manifest.write_text(saved.read_text())
    edit_manifest(manifest, edit)
    with pytest.raises(CheckpointError, match=field):
        load_checkpoint(manifest)


def test_manifest_with_a_repeated_key_is_refused(tmp_path, saved):
    text = saved.read_text().replace('"training_step": 1200,', '"training_step": 1200, "training_step": 5,')
    (tmp_path / "dup.json").write_text(text)
    with pytest.raises(CheckpointError, match="manifest field training_step: appears more than once"):
        read_manifest(tmp_path / "dup.json")


def test_other_feature_set_version_is_refused_naming_the_field(saved, tmp_path):
    manifest = tmp_path / "tiny.json"
    manifest.write_text(saved.read_text())

    def bump(d):
        d["feature_set_version"] = FEATURE_SET_VERSION + 1
        d["architecture"]["feature_set_version"] = FEATURE_SET_VERSION + 1

    edit_manifest(manifest, bump)
    with pytest.raises(CheckpointError, match="manifest field feature_set_version: the checkpoint reads feature set 2"):
        load_checkpoint(manifest)
    edit_manifest(manifest, lambda d: d.__setitem__("feature_set_version", FEATURE_SET_VERSION))
    with pytest.raises(CheckpointError, match="manifest field architecture: architecture feature_set_version 2"):
        load_checkpoint(manifest)


def test_save_refuses_bad_arguments_before_writing(tmp_path):
    with pytest.raises(CheckpointError, match=r"manifest field board_sizes\[0\]"):
        save(tiny_net(), tmp_path, board_sizes=[30])
    with pytest.raises(CheckpointError, match="manifest field metadata: must be standard JSON"):
        save(tiny_net(), tmp_path, metadata={"loss": float("nan")})
    with pytest.raises(CheckpointError, match="manifest field parent"):
        save(tiny_net(), tmp_path, parent="tiny.safetensors")
    with pytest.raises(CheckpointError, match="checkpoint name"):
        save(tiny_net(), tmp_path, name="../escape")
    assert list(tmp_path.iterdir()) == []


def test_save_accepts_numpy_integers(tmp_path):
    manifest = read_manifest(save(tiny_net(), tmp_path, board_sizes=np.array([9, 13]), training_step=np.int64(7)))
    assert manifest.board_sizes == [9, 13] and manifest.training_step == 7


VALID = {
    "name": "x", "format": "safetensors", "weights_file": "x.safetensors", "weights_sha256": "0" * 64,
    "feature_set_version": FEATURE_SET_VERSION, "architecture": TINY.to_dict(), "board_sizes": [9],
    "training_step": 0, "run_name": "r", "created": "2025-01-01T00:00:00+00:00",
}


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(-3, 40), max_size=4))
def test_board_sizes_are_exactly_the_rules_range(sizes):
    valid = bool(sizes) and len(set(sizes)) == len(sizes) and all(2 <= n <= 25 for n in sizes)
    if valid:
        assert validate_manifest({**VALID, "board_sizes": sizes}).board_sizes == sizes
    else:
        with pytest.raises(CheckpointError, match="manifest field board_sizes"):
            validate_manifest({**VALID, "board_sizes": sizes})


# ------------------------------------------------------------------------- weights refusals

def test_tampered_weights_are_refused_naming_both_hashes(tmp_path):
    manifest = save(tiny_net(), tmp_path)
    expected = read_manifest(manifest).weights_sha256
    weights = tmp_path / "tiny.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0x01  # one bit of one weight
    weights.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="manifest field weights_sha256") as info:
        load_checkpoint(manifest, verify=False)
    assert expected in str(info.value) and sha256_file(weights) in str(info.value)


def test_shape_mismatch_names_the_tensor_and_both_shapes(tmp_path):
    narrow = NetworkConfig(blocks=1, channels=32, value_hidden=16)
    manifest = save(tiny_net(narrow), tmp_path)
    edit_manifest(manifest, lambda d: d["architecture"].__setitem__("channels", 48))
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(manifest)
    message = str(info.value)
    assert "tensor stem.weight has shape [32, 17, 3, 3] in the checkpoint but the architecture needs [48, 17, 3, 3]" \
        in message
    assert "tensor value_fc1.weight has shape [16, 32]" in message


def _register_raw(tmp_path, tensors, name="raw") -> pathlib.Path:
    safetensors.torch.save_file(tensors, tmp_path / f"{name}.safetensors")
    return register_checkpoint(tmp_path / f"{name}.safetensors", format="safetensors", architecture=TINY,
                               board_sizes=[9], training_step=0, run_name="unit", verify=False)


def test_missing_and_unexpected_tensors_are_named(tmp_path):
    tensors = dict(tiny_net().state_dict())
    del tensors["value_fc2.bias"]
    tensors["value_fc3.weight"] = torch.zeros(1, 16)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(_register_raw(tmp_path, tensors))
    message = str(info.value)
    assert "tensor value_fc2.bias is missing (the architecture needs shape [1])" in message
    assert "unexpected tensor value_fc3.weight (shape [1, 16])" in message


def test_wrong_dtypes_are_named_but_integer_buffers_may_be_integers(tmp_path):
    tensors = dict(tiny_net().state_dict())
    tensors["stem.weight"] = tensors["stem.weight"].to(torch.int32)
    tensors["stem_bn.num_batches_tracked"] = torch.tensor(7.0)
    tensors["blocks.0.bn1.num_batches_tracked"] = torch.tensor(7, dtype=torch.int32)  # fine
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(_register_raw(tmp_path, tensors))
    message = str(info.value)
    assert "tensor stem.weight has dtype torch.int32 but must be floating point" in message
    assert "tensor stem_bn.num_batches_tracked has dtype torch.float32 but must be an integer" in message
    assert "blocks.0.bn1" not in message


@pytest.mark.parametrize("output, parameter", [("value", "value_fc2.bias"), ("policy_logits", "pass_linear.bias")])
def test_nan_outputs_are_refused_naming_the_output(tmp_path, output, parameter):
    net = tiny_net()
    with torch.no_grad():
        net.get_parameter(parameter).fill_(float("nan"))
    manifest = save(net, tmp_path)
    with pytest.raises(CheckpointError, match=f"output {output} is not finite on 9x9 test positions"):
        load_checkpoint(manifest)
    load_checkpoint(manifest, verify=False)  # the test forward is what catches it


# ------------------------------------------------------------------------- nothing is unpickled

class TouchPayload:
    """Unpickling this calls pathlib.Path.touch(marker): proof that code ran."""

    def __init__(self, marker: pathlib.Path):
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


class ShellPayload:
    """Unpickling this runs a shell command through os.system."""

    def __init__(self, marker: pathlib.Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch '{self.marker}'",))


def test_the_crafted_payload_really_executes_when_unpickled(tmp_path):
    # The control for the tests below: an ordinary unpickler does run the payload.
    control = tmp_path / "control"
    pickle.loads(pickle.dumps(TouchPayload(control)))
    assert control.exists()


@pytest.mark.parametrize("payload", [TouchPayload, ShellPayload])
@pytest.mark.parametrize("container", ["torch_save", "raw_pickle"])
def test_pickle_carrying_code_is_refused_without_executing(tmp_path, payload, container):
    marker = tmp_path / "pwned"
    weights = tmp_path / "evil.pt"
    obj = {"stem.weight": torch.zeros(16, 17, 3, 3), "extra": payload(marker)}
    if container == "torch_save":
        torch.save(obj, weights)
    else:
        weights.write_bytes(pickle.dumps(obj))
    manifest = register_checkpoint(weights, format="state_dict", architecture=TINY, board_sizes=[9],
                                   training_step=0, run_name="unit", verify=False)
    with pytest.raises(CheckpointError, match="contains objects other than tensors .*and was not loaded"):
        load_checkpoint(manifest)
    assert not marker.exists()


def test_pickle_posing_as_torchscript_is_refused_without_executing(tmp_path):
    marker = tmp_path / "pwned"
    torch.save({"x": TouchPayload(marker)}, tmp_path / "evil.ts")
    manifest = register_checkpoint(tmp_path / "evil.ts", format="torchscript", board_sizes=[9], training_step=0,
                                   run_name="unit", verify=False)
    with pytest.raises(CheckpointError, match="not a loadable TorchScript archive"):
        load_checkpoint(manifest, allow_executable=True)
    assert not marker.exists()


def test_state_dict_holding_non_tensors_is_refused(tmp_path):
    torch.save({"stem.weight": torch.zeros(1), "note": "hello"}, tmp_path / "mixed.pt")
    manifest = register_checkpoint(tmp_path / "mixed.pt", format="state_dict", architecture=TINY, board_sizes=[9],
                                   training_step=0, run_name="unit", verify=False)
    with pytest.raises(CheckpointError, match="entry note is a str, not a tensor"):
        load_checkpoint(manifest)


# ------------------------------------------------------------------------- the rest

def test_onnx_without_onnxruntime_is_a_clear_error(tmp_path):
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("onnxruntime is installed here")
    (tmp_path / "net.onnx").write_bytes(b"\x08\x07")
    manifest = register_checkpoint(tmp_path / "net.onnx", format="onnx", board_sizes=[9], training_step=0,
                                   run_name="unit", verify=False)
    with pytest.raises(CheckpointError, match="needs the onnxruntime package"):
        load_checkpoint(manifest, allow_executable=True)


def test_weights_file_without_manifest_is_refused(tmp_path):
    safetensors.torch.save_file(dict(tiny_net().state_dict()), tmp_path / "lonely.safetensors")
    with pytest.raises(CheckpointError, match="no manifest lonely.json beside it"):
        load_checkpoint(tmp_path / "lonely.safetensors")
