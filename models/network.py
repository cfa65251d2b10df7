"""The policy-value residual network.

Input is feature set 1 (`search_workers.go.features`): float32 [B, 17, N, N], plane 0 the
on-board mask. Outputs follow the Evaluator contract of ARCHITECTURE.md:

    policy_logits  [B, N*N+1]   one logit per point, row-major, pass last
    value          [B]          expected outcome for the side to move, in [-1, 1]

The network is fully convolutional and every pooling is masked by plane 0, so one set of
weights plays several board sizes, and a smaller board zero-padded into a larger tensor
gives the same outputs on its points. Global pooling blocks follow KataGo's: the masked mean
and max of some channels bias the rest, which lets a small network see whole-board facts
(who is ahead, is there a ko) that 3x3 convolutions take many layers to gather.

Written to be scriptable with `torch.jit.script`: the TorchScript export (for Triton's
libtorch backend and the CPU flavour's Python backend) is this very module.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from search_workers.go.features import FEATURE_SET_VERSION, NUM_FEATURE_PLANES


@dataclass(frozen=True)
class NetworkConfig:
    """Architecture of a PolicyValueNet; stored in every checkpoint manifest."""

    blocks: int = 6  # residual blocks in the trunk
    channels: int = 48  # channels of the trunk
    global_pooling: bool = True  # every third block gets a KataGo-style global pooling bias
    value_hidden: int = 64  # width of the value head's hidden layer
    input_planes: int = NUM_FEATURE_PLANES  # feature planes the network reads
    feature_set_version: int = FEATURE_SET_VERSION  # which feature set those planes are

    def __post_init__(self) -> None:
        for name, low, high in (("blocks", 1, 64), ("channels", 8, 512), ("value_hidden", 8, 1024),
                                ("input_planes", 1, 64), ("feature_set_version", 1, 1000)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                got = value if isinstance(value, int) and not isinstance(value, bool) else f"a {type(value).__name__}"
                raise ValueError(f"network {name} must be an integer in [{low}, {high}], got {got}")
        if not isinstance(self.global_pooling, bool):
            raise ValueError(f"network global_pooling must be a bool, got a {type(self.global_pooling).__name__}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> NetworkConfig:
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown network config fields: {sorted(str(key)[:40] for key in unknown)[:5]}")
        return cls(**data)

    def gpool_block(self, index: int) -> bool:
        return self.global_pooling and index % 3 == 2


def masked_pool(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """[B, C, N, N] -> [B, 2C]: the mean and max of each channel over on-board points."""
    area = mask.sum(dim=(2, 3)).clamp(min=1.0)
    mean = (x * mask).sum(dim=(2, 3)) / area
    maximum = (x - (1.0 - mask) * 1e4).amax(dim=(2, 3))
    return torch.cat([mean, maximum], dim=1)


class ResidualBlock(nn.Module):
    def __init__(self, channels: int, gpool: bool):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.gpool = gpool
        # Global pooling bias: pooled statistics of the first conv's output shift every
        # channel of the second conv's input.
        self.gpool_linear = nn.Linear(2 * channels, channels) if gpool else nn.Identity()

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x))) * mask
        if self.gpool:
            y = y + self.gpool_linear(masked_pool(y, mask)).unsqueeze(-1).unsqueeze(-1)
            y = y * mask
        y = self.bn2(self.conv2(y))
        return F.relu(x + y) * mask


class PolicyValueNet(nn.Module):
    """features [B, C, N, N] -> (policy_logits [B, N*N+1], value [B])."""

    def __init__(self, config: NetworkConfig = NetworkConfig()):
        super().__init__()
        self.config = config
        c = config.channels
        self.stem = nn.Conv2d(config.input_planes, c, 3, padding=1, bias=False)
        self.stem_bn = nn.BatchNorm2d(c)
        self.blocks = nn.ModuleList([ResidualBlock(c, config.gpool_block(i)) for i in range(config.blocks)])
        self.policy_conv = nn.Conv2d(c, 1, 1)
        self.pass_linear = nn.Linear(2 * c, 1)
        self.value_conv = nn.Conv2d(c, c // 2, 1)
        self.value_fc1 = nn.Linear(c, config.value_hidden)
        self.value_fc2 = nn.Linear(config.value_hidden, 1)

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mask = features[:, 0:1]
        x = F.relu(self.stem_bn(self.stem(features))) * mask
        for block in self.blocks:
            x = block(x, mask)
        pooled = masked_pool(x, mask)
        board_logits = self.policy_conv(x).flatten(1)
        # Off-board points of a padded smaller board never get probability.
        board_logits = board_logits - (1.0 - mask.flatten(1)) * 1e4
        policy_logits = torch.cat([board_logits, self.pass_linear(pooled)], dim=1)
        v = F.relu(self.value_conv(x)) * mask
        v = F.relu(self.value_fc1(masked_pool(v, mask)))
        value = torch.tanh(self.value_fc2(v)).squeeze(1)
        return policy_logits, value


def parameter_count(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def meta_network(config: NetworkConfig) -> PolicyValueNet:
    """The network of `config` on torch's meta device: every shape and dtype, no memory, so an
    architecture can be measured and a weights file checked against it before anything is built."""
    with torch.device("meta"):
        return PolicyValueNet(config)


@dataclass(frozen=True)
class NetworkLimits:
    """The largest network a server accepts (every worker holds it in memory and searches with it)."""

    blocks: int  # residual blocks
    channels: int  # trunk channels
    parameters: int  # trainable parameters in all

    def excess(self, config: NetworkConfig) -> tuple[str, int, int] | None:
        """(which limit, the architecture's value, the limit) for the first limit `config` passes;
        None when it fits. Measured on the meta device: nothing is allocated."""
        for what, value, limit in (("blocks", config.blocks, self.blocks),
                                   ("channels", config.channels, self.channels)):
            if value > limit:
                return what, value, limit
        count = parameter_count(meta_network(config))
        return ("parameters", count, self.parameters) if count > self.parameters else None
