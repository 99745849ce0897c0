"""Goal-conditioned tasks and hindsight experience replay (ddpg.goals, ddpg.her): the flat
layout, the episode index across the ring's wrap, truncation and several environments, the
relabelling strategies and share, rewards from compute_reward, success rates, bad input, exact
resume, populations, and learning a sparse-reward task that DDPG alone does not."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch

import ddpg
from ddpg.buffer import Batch, ReplayBuffer
from ddpg.checkpoint import CheckpointManager
from ddpg.config import Config, HERConfig, NetworkConfig
from ddpg.envs import make
from ddpg.errors import ConfigError, EnvError
from ddpg.goals import GOAL_KEYS, FlattenGoal, GoalLayout
from ddpg.her import EpisodeIndex, Hindsight
from ddpg.seeding import IndexStream

sys.path.insert(0, str(Path(__file__).parent))
import goalenv  # noqa: E402  (registers PointReach-v0)
from goalenv import small_her_config  # noqa: E402

LAYOUT = GoalLayout(2, 2, 4)


def test_a_goal_env_is_flattened_in_the_documented_order():
    env = make("PointReach-v0")
    assert isinstance(env, FlattenGoal) and env.goal_layout == LAYOUT
    obs, _ = env.reset(seed=0)
    raw = env.unwrapped._obs()
    np.testing.assert_array_equal(obs, np.concatenate([raw[k] for k in GOAL_KEYS]))
    assert GOAL_KEYS == ("achieved_goal", "desired_goal", "observation")
    assert env.observation_space.shape == (8,)


class _NoReward(goalenv.PointReach):
    compute_reward = None


class _WrongKeys(gym.Env):
    observation_space = gym.spaces.Dict({"observation": gym.spaces.Box(-1, 1, (3,)),
                                         "goal": gym.spaces.Box(-1, 1, (2,))})
    action_space = gym.spaces.Box(-1, 1, (1,))


class _UnbatchedReward(goalenv.PointReach):
    def compute_reward(self, achieved_goal, desired_goal, info):  # no axis=-1: one number
        return -float(np.linalg.norm(np.asarray(achieved_goal) - desired_goal) > self.radius)


class _ExtraKey(goalenv.PointReach):
    def __init__(self):
        super().__init__()
        self.observation_space = gym.spaces.Dict({**self.observation_space.spaces,
                                                  "velocity": gym.spaces.Box(-1, 1, (3,))})


class _UnequalGoals(goalenv.PointReach):
    def __init__(self):
        super().__init__()
        spaces = dict(self.observation_space.spaces)
        spaces["desired_goal"] = gym.spaces.Box(-2, 2, (3,))
        self.observation_space = gym.spaces.Dict(spaces)


def test_goal_environments_hindsight_replay_would_misread_are_refused():
    """A compute_reward that scores one goal, not a batch (hindsight replay would copy one
    reward onto every relabelled row), a key the networks would not see, and goals of
    different widths each get one line naming the fault."""
    with pytest.raises(EnvError, match=r"compute_reward gave shape \(\) for a batch of 2 goals.*"
                                       r"axis=-1"):
        FlattenGoal(_UnbatchedReward())
    with pytest.raises(EnvError, match="'velocity' besides achieved_goal.*FilterObservation"):
        FlattenGoal(_ExtraKey())
    with pytest.raises(EnvError, match="achieved_goal has 2 values and desired_goal 3"):
        FlattenGoal(_UnequalGoals())
    env = FlattenGoal(goalenv.PointReach())
    with pytest.raises(EnvError, match=r"gave shape \(1,\) for a batch of 3"):
        env.env.unwrapped.compute_reward = lambda a, d, i: np.zeros(1)
        env.compute_reward(np.zeros((3, 2)), np.zeros((3, 2)), None)


def test_bad_goal_environments_and_options_get_one_clear_line(tmp_path):
    with pytest.raises(EnvError, match="no compute_reward"):
        ddpg.train(Config(total_steps=10, warmup_steps=1, out=str(tmp_path), progress=False), _NoReward())
    with pytest.raises(EnvError, match="achieved_goal, desired_goal missing"):
        ddpg.train(Config(total_steps=10, warmup_steps=1, out=str(tmp_path), progress=False), _WrongKeys())
    with pytest.raises(ConfigError, match="her.strategy='future'.*not goal-conditioned"):
        ddpg.train(Config(env="Pendulum-v1", total_steps=10, warmup_steps=1, out=str(tmp_path), progress=False,
                          her=HERConfig(strategy="future")))
    assert not any(tmp_path.iterdir())  # nothing left behind


def _index(cap, n_envs, episodes):
    """Write `episodes` (lists of (env, ended)) one transition at a time."""
    index = EpisodeIndex(cap, n_envs)
    pos = 0
    for e, ended in episodes:
        index.added(pos, np.array([e]), np.array([ended]))
        pos = (pos + 1) % cap
    return index


def test_future_goals_come_from_the_same_episode_at_the_same_or_a_later_step():
    """Two environments interleaved, episodes of several lengths, a truncated one and one
    still running: every future goal row belongs to the same environment and episode, at or
    after the row."""
    rng = np.random.default_rng(0)
    index = EpisodeIndex(500, 2)
    pos, lengths = 0, {0: 0, 1: 0}
    limits = {0: 7, 1: 11}
    for t in range(300):
        ended = []
        for e in (0, 1):
            lengths[e] += 1
            ended.append(lengths[e] >= limits[e] or rng.random() < 0.05)  # cut or terminated
            if ended[-1]:
                lengths[e] = 0
        index.added(pos, np.array([0, 1]), np.array(ended))
        pos += 2
    idx = rng.integers(0, 600 - 1, 4000) % 500
    idx = idx[index.env[idx] >= 0]
    u = rng.random(len(idx))
    goal = index.goal_rows(idx, "future", u)
    same_env = index.env[goal] == index.env[idx]
    same_episode = index.start[goal] == index.start[idx]
    assert same_env.all() and same_episode.all()
    assert (index.at[goal] >= index.at[idx]).all()
    ends = np.where(index.end[idx] >= 0, index.end[idx], index.count[index.env[idx]] - 1)
    assert (index.at[goal] <= ends).all()
    assert (index.at[goal] > index.at[idx]).any()  # not only the row itself
    final = index.goal_rows(idx, "final", u)
    assert (index.at[final] == ends).all()
    episode = index.goal_rows(idx, "episode", u)
    assert (index.start[episode] == index.start[idx]).all()
    assert (index.at[episode] < index.at[idx]).any()  # earlier steps too


def test_episodes_that_wrap_around_the_ring_are_relabelled_from_their_rows_still_held():
    """A ring of 10 rows, episodes of 4: once the ring wraps, an episode whose first rows were
    overwritten draws only from the rows left, and rows written across the wrap (8, 9, 0, 1)
    form one episode."""
    index = _index(10, 1, [(0, (t + 1) % 4 == 0) for t in range(26)])
    # transitions 0..25; rows hold 16..25; episodes [16..19], [20..23], [24, 25 running]
    assert index.at[6] == 16 and index.end[6] == 19
    assert index.at[8] == 18 and index.end[8] == 19
    wrapped = [index.rows[0, a % 10] for a in range(20, 24)]  # episode 20..23: rows 0, 1, 2, 3
    assert wrapped == [0, 1, 2, 3]
    assert index.valid_from[0] == 16
    u = np.linspace(0, 0.999, 50)
    for row in range(10):
        for strategy in ("future", "final", "episode"):
            goals = index.goal_rows(np.full(50, row), strategy, u)
            assert (index.at[goals] >= 16).all()  # never an overwritten transition
            assert (index.start[goals] == index.start[row]).all() or index.start[row] < 16
            assert set(index.at[goals]) <= set(range(max(index.start[row], 16),
                                                     (index.end[row] if index.end[row] >= 0
                                                      else 25) + 1))
    # an episode truncated at one step ends there: its only goal is itself
    one = _index(10, 1, [(0, True), (0, False), (0, False)])
    assert list(one.goal_rows(np.array([0, 0]), "future", np.array([0.0, 0.99]))) == [0, 0]
    assert list(one.goal_rows(np.array([1]), "future", np.array([0.99]))) == [2]


def _buffer_with_episodes(seed=0, k=4, strategy="future"):
    env = FlattenGoal(goalenv.PointReach())
    cap = 200
    her = Hindsight(cap, 1, env.goal_layout, strategy, k, env.compute_reward, IndexStream(seed))
    buf = ReplayBuffer(cap, 8, 2, IndexStream(seed + 1))
    buf.hindsight = her
    obs, _ = env.reset(seed=seed)
    for t in range(150):
        a = np.random.default_rng(t).uniform(-1, 1, 2).astype(np.float32)
        nxt, r, term, trunc, _ = env.step(a)
        trunc = (t + 1) % 20 == 0
        pos = buf.pos
        buf.add(obs[None], a[None], np.array([r]), nxt[None], np.array([term]))
        her.index.added(pos, np.array([0]), np.array([term or trunc]))
        obs = env.reset()[0] if trunc else nxt
    return env, buf


def test_the_share_of_relabelled_goals_matches_k_and_rewards_are_compute_rewards():
    env, buf = _buffer_with_episodes(k=4)
    changed, total = 0, 0
    for _ in range(20):
        idx = buf.sample_indices(256)
        raw = Batch(*buf.storage.index_select(0, idx).split(buf.widths, dim=1))
        batch = buf.gather(idx)
        moved = (batch.states[:, 2:4] != raw.states[:, 2:4]).any(dim=1)
        changed += int(moved.sum())
        total += len(idx)
        # s and s' carry the same new goal; the reward is the env's for s' against it
        torch.testing.assert_close(batch.states[:, 2:4], batch.next_states[:, 2:4])
        want = env.compute_reward(batch.next_states[:, 0:2].numpy(),
                                  batch.next_states[:, 2:4].numpy(), {})
        np.testing.assert_array_equal(batch.rewards[:, 0].numpy(), want.astype(np.float32))
        torch.testing.assert_close(batch.actions, raw.actions)
    # k = 4: 4/5 relabelled, less the draws that picked the row's own goal again
    assert 0.5 < changed / total <= 0.8 + 3 * (0.16 / total) ** 0.5


def test_relabelling_on_the_host_and_on_a_device_gives_the_same_rows():
    # the numpy way (rows on a CPU) and the tensor-indexing way (rows on a GPU), both on a CPU
    _, buf = _buffer_with_episodes(k=4)
    her = buf.hindsight
    for _ in range(5):
        idx = buf.sample_indices(256)
        stream = her.stream.state_dict()
        on_host = buf.storage.index_select(0, idx)
        her.relabel(on_host, idx, buf.storage, buf.widths, host=True)
        her.stream.load_state_dict(stream)  # the same draws again
        on_device = buf.storage.index_select(0, idx)
        her.relabel(on_device, idx, buf.storage, buf.widths, host=False)
        assert not torch.equal(on_host, buf.storage.index_select(0, idx))  # some relabelled
        torch.testing.assert_close(on_host, on_device, rtol=0, atol=0)


@pytest.mark.parametrize("k", [1, 4, 8])
def test_the_relabelling_draw_follows_k(k):
    _, buf = _buffer_with_episodes(k=k)
    where, _ = buf.hindsight.draw(np.arange(100).repeat(100))
    p = k / (k + 1)
    assert abs(where.mean() - p) < 4 * (p * (1 - p) / where.size) ** 0.5


def _small(tmp_path, **kw) -> Config:
    return small_her_config(str(tmp_path), **{"threads": 1, **kw})


def test_her_learns_a_sparse_reward_task_and_success_is_a_metric(tmp_path):
    """DDPG+HER reaches the goal in >= 90 % of 20 noise-free evaluation episodes within 1,500
    steps; success rates reach metrics.csv and the policy acts on the Dict observation."""
    res = ddpg.train(_small(tmp_path, run_name="her"))
    rates = [r["eval_success_rate"] for r in res.evaluations]
    assert rates[-1] >= 0.9, rates
    with open(res.run_dir / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert [float(r["eval_success_rate"]) for r in rows] == rates
    policy = ddpg.load(res.run_dir)
    assert policy.metadata["goal"] == dict(zip(GOAL_KEYS, LAYOUT))
    obs, _ = goalenv.PointReach().reset(seed=1)
    flat = np.concatenate([obs[k] for k in GOAL_KEYS])
    np.testing.assert_array_equal(policy.act(obs), policy.act(flat))
    with pytest.raises(ValueError, match="desired_goal missing"):
        policy.act({"observation": obs["observation"], "achieved_goal": obs["achieved_goal"]})
    two = [obs, goalenv.PointReach().reset(seed=2)[0]]  # a list of Dicts is a batch
    np.testing.assert_allclose(policy.act(two), np.stack([policy.act(o) for o in two]), atol=1e-6)
    with pytest.raises(ValueError, match=r"desired_goal \(1, 2\).*same leading shape"):
        policy.act({**obs, "desired_goal": obs["desired_goal"][None]})


KILL = """
import sys
sys.path.insert(0, sys.argv[3])
import goalenv, ddpg
from ddpg.config import Config, HERConfig, NetworkConfig
c = Config(env="PointReach-v0", total_steps=1200, warmup_steps=200, batch_size=32,
           network=NetworkConfig(hidden_sizes=(32, 32)), eval_every=400, eval_episodes=3,
           her=HERConfig(strategy=sys.argv[4]), checkpoint_every=100, out=sys.argv[1],
           run_name=sys.argv[2], progress=False, tensorboard=False, threads=1, num_envs=2)
if sys.argv[5] == "resume":
    ddpg.resume(sys.argv[1] + "/" + sys.argv[2])
else:
    ddpg.train(c)
"""


def _metrics(run: Path):
    with open(run / "metrics.csv") as f:
        return [{k: v for k, v in r.items() if k not in ("time_s", "steps_per_s")}
                for r in csv.DictReader(f)]


@pytest.mark.parametrize("strategy", ["future", "episode"])
def test_killed_and_resumed_is_bit_identical(tmp_path, strategy):
    here = str(Path(__file__).parent)
    run = lambda name, how: subprocess.Popen(  # noqa: E731
        [sys.executable, "-c", KILL, str(tmp_path), name, here, strategy, how],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert run("ref", "train").wait() == 0
    proc = run("killed", "train")
    ckpts = tmp_path / "killed" / "checkpoints"
    deadline = time.time() + 120
    while time.time() < deadline and not any(int(p.stem.split("-")[1]) >= 500
                                             for p in ckpts.glob("ckpt-*.json")):
        time.sleep(0.02)
    proc.kill()
    proc.wait()
    assert CheckpointManager(ckpts).latest()[0].step < 1200
    resumed = run("killed", "resume")
    assert resumed.wait() == 0, resumed.stderr.read().decode()
    a = CheckpointManager(tmp_path / "ref" / "checkpoints").latest()[0]
    b = CheckpointManager(ckpts).latest()[0]
    assert a.step == b.step == 1200
    for part in ("actor", "critic"):
        for k, v in a.state["agent"][part].items():
            assert torch.equal(v, b.state["agent"][part][k]), (part, k)
    assert a.state["hindsight"]["stream"] == b.state["hindsight"]["stream"]
    for k, v in a.state["hindsight"]["index"].items():
        assert torch.equal(v, b.state["hindsight"]["index"][k]), k
    assert _metrics(tmp_path / "ref") == _metrics(tmp_path / "killed")


def test_a_her_population_relabels_each_member_as_its_single_run(tmp_path):
    """Two members with hindsight replay end where their single runs end, to the rounding the
    batched products carry: the same relabelled batches drawn from each member's own stream."""
    from ddpg.population import train_population

    c = _small(tmp_path, total_steps=250, eval_every=250, eval_episodes=2)
    pop = train_population(Config(**{**c.__dict__, "run_name": "pop"}), seeds="0,1")
    for i, seed in enumerate((0, 1)):
        one = ddpg.train(Config(**{**c.__dict__, "seed": seed, "run_name": f"one{seed}"}))
        member = pop.results[i]
        assert member.agent.updates == one.agent.updates == 51
        for p, q in zip(member.agent.critic.parameters(), one.agent.critic.parameters()):
            assert torch.allclose(p, q, rtol=0, atol=1e-4), (p - q).abs().max()
        h1, h2 = member.buffer.hindsight, one.buffer.hindsight
        assert h1.stream.state_dict() == h2.stream.state_dict()
        np.testing.assert_array_equal(h1.index.end, h2.index.end)
    manifest = json.loads((tmp_path / "pop" / "population.json").read_text())
    assert [m["status"] for m in manifest["members"]] == ["done", "done"]


def test_a_collectors_chunk_indexes_as_the_steps_it_holds():
    """A distributed collector's chunk (rows of the environments kept each step, their ended
    flags, the resets after dropped transitions) gives the same episode index as writing its
    steps one by one as a single process does (collect.index_episodes), across the ring's wrap,
    with its environments numbered after another collector's."""
    rng = np.random.default_rng(4)
    cap, n, first, steps = 37, 3, 3, 60
    good = rng.random((steps, n)) > 0.1
    done = rng.random((steps, n)) < 0.15
    local, remote = EpisodeIndex(cap, 2 * n), EpisodeIndex(cap, 2 * n)
    pos, env, ended, cuts, stored = 5, [], [], [], 0
    for t in range(steps):
        kept = np.flatnonzero(good[t])
        local.added(pos, first + kept, (done[t] | ~good[t])[kept])
        for e in np.flatnonzero(~good[t]):
            local.cut(first + int(e))
        pos = (pos + len(kept)) % cap
        env.append(kept)
        ended.append((done[t] | ~good[t])[kept])
        stored += len(kept)
        cuts += [(stored, int(e)) for e in np.flatnonzero(~good[t])]
    chunk = {"env": np.concatenate(env), "ended": np.concatenate(ended), "cuts": cuts}
    remote.added_chunk(chunk, 5, stored, first)
    for k, v in local.state_dict().items():
        np.testing.assert_array_equal(remote.state_dict()[k], v, err_msg=k)
    assert (local.env >= first).all() and local.end.max() >= 0  # episodes did end
