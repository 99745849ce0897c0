"""The deterministic actor mu(s) and the critic Q(s, a), with the seed's signatures."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

_ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "elu": nn.ELU, "leaky_relu": nn.LeakyReLU}
_NORMS = {"layer": nn.LayerNorm, "batch": nn.BatchNorm1d}


def _hidden(in_dim: int, sizes: Sequence[int], activation: str, norm: str) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for width in sizes:
        layers.append(nn.Linear(in_dim, width))
        if norm != "none":
            layers.append(_NORMS[norm](width))
        layers.append(_ACTIVATIONS[activation]())
        in_dim = width
    return layers


def _init_output(layer: nn.Linear, init: str) -> None:
    """'paper': the 2015 paper's U(-3e-3, 3e-3) output layer; 'default' keeps PyTorch's
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)), which is also the paper's rule for the other layers."""
    if init == "paper":
        nn.init.uniform_(layer.weight, -3e-3, 3e-3)
        nn.init.uniform_(layer.bias, -3e-3, 3e-3)
    elif init != "default":
        raise ValueError(f"init={init!r} is unknown; use 'default' or 'paper'.")


# --8<-- [start:actor]
class Actor(nn.Module):
    """mu(s) = max_action * tanh(f(s)). With the defaults this is the seed's network exactly
    (same layers and parameter names), so the seed's state_dict loads into it."""

    def __init__(self, state_dim: int, action_dim: int, max_action: float | torch.Tensor = 1.0,
                 hidden_sizes: Sequence[int] = (400, 300), activation: str = "relu",
                 norm: str = "none", init: str = "default") -> None:
        super().__init__()
        self.state_dim = state_dim
        layers: list[nn.Module] = [nn.BatchNorm1d(state_dim)] if norm == "batch" else []
        layers += _hidden(state_dim, hidden_sizes, activation, norm)
        out = nn.Linear(hidden_sizes[-1], action_dim)
        _init_output(out, init)
        self.net = nn.Sequential(*layers, out, nn.Tanh())
        max_action = torch.as_tensor(max_action, dtype=torch.float32)
        if max_action.ndim > 1 or (max_action.ndim == 1 and max_action.numel() != action_dim):
            raise ValueError(
                f"max_action has shape {tuple(max_action.shape)}; give a float or a tensor of "
                f"shape ({action_dim},), one bound per action dimension."
            )
        self.register_buffer("max_action", max_action)

    def forward(self, state: torch.Tensor) -> torch.Tensor:
        return self.max_action * self.net(state)
# --8<-- [end:actor]


class Critic(nn.Module):
    """Q(s, a). The action enters at hidden layer `action_layer`: 0 concatenates (s, a) at the
    input as in the seed (same parameter names), 1 after the first hidden layer as in the paper."""

    def __init__(self, state_dim: int, action_dim: int, hidden_sizes: Sequence[int] = (400, 300),
                 activation: str = "relu", norm: str = "none", init: str = "default",
                 action_layer: int = 0) -> None:
        super().__init__()
        if not 0 <= action_layer < len(hidden_sizes):
            raise ValueError(f"action_layer={action_layer} must be in [0, {len(hidden_sizes)}).")
        before, after = list(hidden_sizes[:action_layer]), list(hidden_sizes[action_layer:])
        state_layers: list[nn.Module] = [nn.BatchNorm1d(state_dim)] if norm == "batch" else []
        state_layers += _hidden(state_dim, before, activation, norm)
        self.state_net = nn.Sequential(*state_layers)
        joint_in = (before[-1] if before else state_dim) + action_dim
        # Batch normalisation stops where the action joins, as in the paper; layer norm goes on.
        out = nn.Linear(after[-1], 1)
        _init_output(out, init)
        joint_norm = norm if norm == "layer" else "none"
        self.net = nn.Sequential(*_hidden(joint_in, after, activation, joint_norm), out)

    # --8<-- [start:critic]
    def forward(self, state: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([self.state_net(state), action], dim=1))
    # --8<-- [end:critic]


def build(state_dim: int, action_dim: int, network, critic: type[nn.Module] = Critic
          ) -> tuple[Actor, nn.Module]:
    """Actor (in normalised action units, max_action 1) and critic from a NetworkConfig;
    `critic` is the critic's class (TD3 passes its TwinCritic, which takes the same arguments)."""
    n = network
    actor = Actor(state_dim, action_dim, 1.0, n.hidden_sizes, n.activation, n.norm, n.init)
    return actor, critic(state_dim, action_dim, n.hidden_sizes, n.activation, n.norm, n.init,
                         n.critic_action_layer)
