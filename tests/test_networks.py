import pytest
import torch
from torch import nn

from ddpg import Actor, Critic
from ddpg.config import NetworkConfig
from ddpg.networks import build


class SeedActor(nn.Module):
    def __init__(self, state_dim, action_dim, max_action):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(state_dim, 400), nn.ReLU(), nn.Linear(400, 300),
                                 nn.ReLU(), nn.Linear(300, action_dim), nn.Tanh())
        self.max_action = max_action

    def forward(self, state):
        return self.max_action * self.net(state)


class SeedCritic(nn.Module):
    def __init__(self, state_dim, action_dim):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(state_dim + action_dim, 400), nn.ReLU(),
                                 nn.Linear(400, 300), nn.ReLU(), nn.Linear(300, 1))

    def forward(self, state, action):
        return self.net(torch.cat([state, action], dim=1))


def test_seed_architecture_and_state_dict_compatible():
    seed_actor, seed_critic = SeedActor(5, 2, 3.0), SeedCritic(5, 2)
    actor, critic = Actor(5, 2, 3.0), Critic(5, 2)
    actor.load_state_dict(seed_actor.state_dict(), strict=False)  # ours adds max_action
    critic.load_state_dict(seed_critic.state_dict(), strict=False)
    s, a = torch.randn(8, 5), torch.rand(8, 2)
    assert torch.equal(actor(s), seed_actor(s))
    assert torch.equal(critic(s, a), seed_critic(s, a))
    assert actor(s).abs().max() <= 3.0
    assert sum(p.numel() for p in actor.parameters()) == 5 * 400 + 400 + 400 * 300 + 300 + 300 * 2 + 2


def test_per_dimension_max_action():
    actor = Actor(3, 2, torch.tensor([1.0, 10.0]))
    out = actor(torch.randn(100, 3) * 100)
    assert out[:, 0].abs().max() <= 1.0 and out[:, 1].abs().max() > 1.0
    with pytest.raises(ValueError, match="one bound per action dimension"):
        Actor(3, 2, torch.tensor([1.0, 2.0, 3.0]))


def test_action_enters_critic_at_chosen_layer():
    critic = Critic(4, 2, (64, 32), action_layer=1)
    assert critic.state_net[0].in_features == 4
    assert critic.net[0].in_features == 64 + 2
    assert critic(torch.randn(3, 4), torch.randn(3, 2)).shape == (3, 1)
    with pytest.raises(ValueError):
        Critic(4, 2, (64, 32), action_layer=2)


@pytest.mark.parametrize("norm", ["none", "layer", "batch"])
@pytest.mark.parametrize("activation", ["relu", "tanh", "elu", "leaky_relu"])
def test_configurable_networks(norm, activation):
    cfg = NetworkConfig(hidden_sizes=(32, 16, 8), activation=activation, norm=norm,
                        critic_action_layer=1)
    actor, critic = build(6, 3, cfg)
    s = torch.randn(10, 6)
    a = actor(s)
    assert a.shape == (10, 3) and a.abs().max() <= 1.0
    assert critic(s, a).shape == (10, 1)
    kinds = {type(m) for m in actor.modules()}
    assert (nn.LayerNorm in kinds) == (norm == "layer")
    assert (nn.BatchNorm1d in kinds) == (norm == "batch")


def test_paper_init_bounds_output_layers():
    actor, critic = build(3, 1, NetworkConfig(init="paper"))
    for layer in (actor.net[-2], critic.net[-1]):
        assert layer.weight.abs().max() <= 3e-3 and layer.bias.abs().max() <= 3e-3
    first = actor.net[0]
    assert first.weight.abs().max() > 3e-3  # hidden layers keep fan-in init
    assert first.weight.abs().max() <= 1 / 3**0.5
