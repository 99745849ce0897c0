"""TD7's policy-checkpoint rule (ddpg.policy_checkpoints) against the rule as the paper's
section 5 and appendix describe it, written out here as a plain step-by-step loop."""

from __future__ import annotations

import math
import random

import pytest

from ddpg.policy_checkpoints import CheckpointRule, Decision


class PaperRule:
    """The rule as described: per episode, track the assessment; train one update at a time,
    switching to the late-training setting at the update count `switch_at`."""

    def __init__(self, max_episodes, switch_at, reset_weight):
        self.max_episodes, self.switch_at, self.w = max_episodes, switch_at, reset_weight
        self.trained = 0
        self.eps_since, self.steps_since, self.max_eps = 0, 0, 1
        self.min_return, self.best_min_return = math.inf, -math.inf
        self.checkpoints = 0

    def end_of_episode(self, length, ret):
        self.eps_since += 1
        self.steps_since += length
        self.min_return = min(self.min_return, ret)
        before = self.trained, self.checkpoints
        if self.min_return < self.best_min_return:
            self.train_and_reset()
        elif self.eps_since == self.max_eps:
            self.best_min_return = self.min_return
            self.checkpoints += 1
            self.train_and_reset()
        return self.trained - before[0], self.checkpoints > before[1]

    def train_and_reset(self):
        for _ in range(self.steps_since):
            if self.trained == self.switch_at:
                # the paper's `*= w`, lowering a negative bar too (the module's docstring)
                self.best_min_return -= (1 - self.w) * abs(self.best_min_return)
                self.max_eps = self.max_episodes
            self.trained += 1
        self.eps_since, self.steps_since, self.min_return = 0, 0, math.inf


@pytest.mark.parametrize("seed", range(5))
def test_the_rule_decides_as_the_papers_loop_does(seed):
    rng = random.Random(seed)
    ours, paper = CheckpointRule(5, 3_000, 0.9), PaperRule(5, 3_000, 0.9)
    checkpoints = 0
    for _ in range(600):
        length, ret = rng.randint(5, 40), rng.gauss(-200 + 0.3 * paper.trained / 10, 60)
        want = paper.end_of_episode(length, ret)
        got = ours.episode_ended(length, ret)
        assert (got.updates, got.checkpoint) == want
        checkpoints += got.checkpoint
        assert ours.best == pytest.approx(paper.best_min_return)
    assert ours.updates == paper.trained > 3_000 and ours.episodes_now == 5
    assert checkpoints > 5  # the sequence exercised both branches


def test_early_training_checkpoints_after_each_good_episode_and_trains_after_a_bad_one():
    rule = CheckpointRule(max_episodes=20, switch_at=10**6)
    assert rule.episode_ended(200, -500.0) == Decision(200, True)  # the first is the bar
    assert rule.episode_ended(200, -700.0) == Decision(200, False)  # worse: train, no checkpoint
    assert rule.episode_ended(200, -400.0) == Decision(200, True)
    assert rule.best == -400.0 and rule.updates == 600


def test_after_the_switch_an_assessment_takes_max_episodes_and_the_bar_is_lowered():
    rule = CheckpointRule(max_episodes=3, switch_at=100, reset_weight=0.5)
    assert rule.episode_ended(150, -100.0) == Decision(150, True)  # crosses 100: switch
    assert rule.best == -150.0 and rule.episodes_now == 3  # lowered by half its size
    assert rule.episode_ended(10, -140.0) == Decision(0, False)  # held back: assessing
    assert rule.episode_ended(10, -145.0) == Decision(0, False)
    assert rule.episode_ended(10, -130.0) == Decision(30, True)  # 3 episodes, worst -145
    assert rule.best == -145.0
    assert rule.episode_ended(10, -160.0) == Decision(10, False)  # below the bar: ends early


def test_a_positive_bar_is_lowered_as_the_paper_multiplies_it():
    rule = CheckpointRule(max_episodes=2, switch_at=5, reset_weight=0.9)
    rule.episode_ended(10, 1000.0)
    assert rule.best == pytest.approx(900.0)


def test_state_round_trips_mid_assessment_and_bad_settings_are_refused():
    rule = CheckpointRule(max_episodes=3, switch_at=0)
    rule.episode_ended(10, -1.0)
    rule.episode_ended(10, -2.0)
    again = CheckpointRule()
    again.load_state_dict(rule.state_dict())
    assert again.state_dict() == rule.state_dict()
    assert again.episode_ended(5, -3.0) == rule.episode_ended(5, -3.0)
    with pytest.raises(ValueError, match="max_episodes=0"):
        CheckpointRule(max_episodes=0)


def test_the_switch_comes_with_the_update_numbered_switch_at():
    """Updates are numbered from 0: a burst that ends at exactly switch_at updates has not run
    update number switch_at yet; the next burst does, and switches."""
    rule = CheckpointRule(max_episodes=4, switch_at=100, reset_weight=0.5)
    rule.episode_ended(100, -10.0)
    assert rule.episodes_now == 1 and rule.best == -10.0
    rule.episode_ended(1, -8.0)
    assert rule.episodes_now == 4 and rule.best == -12.0


def test_the_switch_counts_updates_when_a_step_runs_several():
    """With 3 updates a step, the switch at update 300 comes in the burst of the 101st step,
    as the paper counts updates (training_steps), not environment steps."""
    rule = CheckpointRule(max_episodes=4, switch_at=300, reset_weight=0.5, updates_per_step=3)
    assert rule.episode_ended(100, -10.0).updates == 100  # steps released: 300 updates run
    assert rule.episodes_now == 1 and rule.updates == 300
    rule.episode_ended(1, -8.0)
    assert rule.episodes_now == 4 and rule.best == -12.0
