"""The DDPG agent: actor, critic, their targets, optimizers and exploration noise as one state."""

from __future__ import annotations

import copy

import numpy as np
import torch

from ddpg.buffer import Batch
from ddpg.config import Config
from ddpg.networks import build
from ddpg.noise import make_noise
from ddpg.update import ddpg_step


def _adam(params, lr: float, weight_decay: float, device: torch.device) -> torch.optim.Adam:
    # fused Adam runs one kernel for all tensors (faster than the per-tensor loop) on CPU and CUDA
    return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, fused=True) \
        if device.type in ("cpu", "cuda") else torch.optim.Adam(params, lr=lr,
                                                                 weight_decay=weight_decay)


class DDPGAgent:
    """Acts in normalised action units [-1, 1]; the trainer rescales to the env's bounds."""

    def __init__(self, obs_dim: int, action_dim: int, config: Config,
                 rng: np.random.Generator | None = None) -> None:
        self.config, self.obs_dim, self.action_dim = config, obs_dim, action_dim
        self.device = torch.device(config.device)
        self.actor, self.critic = build(obs_dim, action_dim, config.network)
        self.actor.to(self.device)
        self.critic.to(self.device)
        self.actor_target = copy.deepcopy(self.actor).requires_grad_(False).eval()
        self.critic_target = copy.deepcopy(self.critic).requires_grad_(False).eval()
        self.actor_optimizer = _adam(self.actor.parameters(), config.actor_lr, 0.0, self.device)
        self.critic_optimizer = _adam(self.critic.parameters(), config.critic_lr,
                                      config.critic_weight_decay, self.device)
        self.rng = rng if rng is not None else np.random.default_rng(config.seed)
        self.noise = make_noise(config.noise, config.num_envs, action_dim, self.rng)
        self._has_batch_norm = config.network.norm == "batch"
        self.updates = 0

    @torch.no_grad()
    def act(self, obs: np.ndarray, step: int | None = None) -> np.ndarray:
        """mu(s) for a batch of observations (N, obs_dim); with `step`, plus exploration noise at
        that step's sigma, clipped to [-1, 1]."""
        self.actor.eval()
        o = torch.as_tensor(np.asarray(obs, dtype=np.float32), device=self.device)
        a = self.actor(o.reshape(-1, self.obs_dim)).cpu().numpy()
        self.actor.train()
        if step is not None:
            a = np.clip(a + self.noise.sample(step), -1.0, 1.0)
        return a

    def update(self, batch: Batch) -> dict[str, torch.Tensor]:
        """One DDPG gradient step on `batch` (see ddpg.update.ddpg_step)."""
        c = self.config
        info = ddpg_step(self.actor, self.critic, self.actor_target, self.critic_target,
                         self.actor_optimizer, self.critic_optimizer, batch, c.tau, c.gamma)
        if self._has_batch_norm:  # running statistics are copied, not averaged
            for net, target in ((self.actor, self.actor_target), (self.critic, self.critic_target)):
                for b, tb in zip(net.buffers(), target.buffers()):
                    tb.copy_(b)
        self.updates += 1
        return info

    def state_dict(self) -> dict:
        return {
            "actor": self.actor.state_dict(), "critic": self.critic.state_dict(),
            "actor_target": self.actor_target.state_dict(),
            "critic_target": self.critic_target.state_dict(),
            "actor_optimizer": self.actor_optimizer.state_dict(),
            "critic_optimizer": self.critic_optimizer.state_dict(),
            "noise": self.noise.state_dict(), "updates": self.updates,
        }

    def load_state_dict(self, d: dict) -> None:
        for name in ("actor", "critic", "actor_target", "critic_target", "actor_optimizer",
                     "critic_optimizer", "noise"):
            getattr(self, name).load_state_dict(d[name])
        self.updates = int(d["updates"])
