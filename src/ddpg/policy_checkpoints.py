"""TD7's policy checkpoints (Fujimoto et al., 2023, section 5): the policy that is evaluated and
saved is the best recent one by its worst training episode, and training waits while a new
policy is being assessed.

The rule, episode by episode: the current policy plays episodes without being trained (the
updates owed for their steps are held back). If one of them returns less than the checkpoint's
worst episode did, the assessment ends early: the held-back updates run and a new assessment
begins. If the current policy gets through `episodes` episodes (1 at first) with its worst
return at least the checkpoint's, it becomes the checkpoint (its worst return the new bar),
then the held-back updates run. After `switch_at` updates the bar is lowered by `reset_weight`
and each assessment takes `max_episodes` episodes (the paper: 1 episode early in training, 20
later, switching at 750k updates with weight 0.9).

Lowering the bar: the paper multiplies it by `reset_weight`, which lowers it where returns are
positive (MuJoCo's) but would raise a negative bar (Pendulum's); here it is lowered by the same
fraction of its size either way, best - (1 - w) |best|, which is the paper's w * best for
best >= 0.

`CheckpointRule.episode_ended` says, after each episode, how many steps' updates to run now
(each step `updates_per_step` updates; the switch counts updates, as the paper) and whether
the current policy became the checkpoint; the caller copies the actor (and TD7's fixed encoder)
when it did.
"""

from __future__ import annotations

import math
from typing import NamedTuple


class Decision(NamedTuple):
    updates: int  # steps whose held-back updates run now (0: the assessment goes on)
    checkpoint: bool  # the current policy becomes the checkpoint (before those updates)


class CheckpointRule:
    """The policy-checkpoint rule's counters (see the module's docstring)."""

    def __init__(self, max_episodes: int = 20, switch_at: int = 750_000,
                 reset_weight: float = 0.9, updates_per_step: int = 1) -> None:
        if max_episodes < 1 or switch_at < 0 or not 0 < reset_weight <= 1:
            raise ValueError(f"max_episodes={max_episodes} (>= 1), switch_at={switch_at} "
                             f"(>= 0) and reset_weight={reset_weight} (in (0, 1]) are needed.")
        self.max_episodes, self.switch_at, self.reset_weight = (max_episodes, switch_at,
                                                                reset_weight)
        self.episodes_now = 1  # episodes an assessment takes (max_episodes after the switch)
        self.best = -math.inf  # the checkpoint's worst episode return
        self.per_step = updates_per_step  # a released step runs this many updates
        self.updates = 0  # updates run so far
        self._reset()

    def _reset(self) -> None:
        self.episodes, self.steps, self.worst = 0, 0, math.inf  # of the current assessment

    # --8<-- [start:episode_ended]
    def episode_ended(self, length: int, episode_return: float) -> Decision:
        """An episode of `length` steps and this return ended (the updates owed for its steps
        are held back until the decision says to run them)."""
        self.episodes += 1
        self.steps += length
        self.worst = min(self.worst, episode_return)
        if self.worst < self.best:  # worse than the checkpoint: stop assessing, train
            return self._train(checkpoint=False)
        if self.episodes == self.episodes_now:  # assessed, and at least as good
            self.best = self.worst
            return self._train(checkpoint=True)
        return Decision(0, False)
    # --8<-- [end:episode_ended]

    def _train(self, checkpoint: bool) -> Decision:
        n = self.steps
        burst = n * self.per_step
        if self.updates <= self.switch_at < self.updates + burst:  # the switch is in this burst
            self.best -= (1 - self.reset_weight) * abs(self.best)  # (w * best if best >= 0)
            self.episodes_now = self.max_episodes
        self.updates += burst
        self._reset()
        return Decision(n, checkpoint)

    def state_dict(self) -> dict[str, float]:
        return {"episodes_now": self.episodes_now, "best": self.best, "updates": self.updates,
                "episodes": self.episodes, "steps": self.steps, "worst": self.worst}

    def load_state_dict(self, d: dict[str, float]) -> None:
        self.episodes_now, self.updates = int(d["episodes_now"]), int(d["updates"])
        self.episodes, self.steps = int(d["episodes"]), int(d["steps"])
        self.best, self.worst = float(d["best"]), float(d["worst"])
