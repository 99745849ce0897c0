"""The environment loop: collect with exploration noise, update, evaluate, log, checkpoint.

Long because collection (from its own environments, or with --actors from the collectors of
ddpg.distributed), updates, evaluation, checkpoints and signals share one set of counters and
accumulators that a checkpoint saves and restores together (`_state`, `_load`); split up, they
would pass that state between modules."""

from __future__ import annotations

import dataclasses
import math
import os
import signal
import threading
from pathlib import Path
from typing import Any, Callable, NamedTuple

import numpy as np
import torch

from ddpg import config as cfgmod
from ddpg import devices
from ddpg.agent import Agent
from ddpg.buffer import ReplayBuffer
from ddpg.checkpoint import CheckpointManager, Loaded
from ddpg.config import Config
from ddpg.collect import Books, collect
from ddpg.envs import EnvLike, EpisodeRecorder, SameStepVectorEnv, env_factory, to_env_action
from ddpg.errors import CheckpointError, ConfigError, Interrupted, TrainingError
from ddpg.goals import GOAL_KEYS, find_goal_env
from ddpg.her import Hindsight
from ddpg.evaluation import episode_cap, episode_seeds, evaluate
from ddpg.metrics import (COLUMNS, DISTRIBUTED_COLUMNS, SUCCESS_COLUMNS, EVALUATIONS_FILE, RunLogger, log,
                          write_evaluations)
from ddpg.newdirs import removed_on_failure
from ddpg.policy import BEST_POLICY_FILE, POLICY_FILE, Policy
from ddpg.priorities import Priorities
from ddpg.results import StepContext, TrainResult
from ddpg.rundir import make_run_dir
from ddpg.seeding import seed_streams
from ddpg.sizing import check_memory
from ddpg.system import available_cores

CHECKPOINT_DIR = "checkpoints"


class LossSums(NamedTuple):
    """What the evaluation row averages: sums since the last evaluation of the updates' critic
    loss, actor loss, Q and actor updates (TD3's actor updates only every policy_delay-th).
    Kept on the device as one tensor in this order (`loss_sums`), read once per evaluation."""

    critic_loss: float
    actor_loss: float
    q: float
    actor_updated: float


def loss_sums(info: dict[str, torch.Tensor], dim: int = 0) -> torch.Tensor:
    """An update's LossSums fields from its info, stacked along `dim` (dim 1 for a population's
    per-member (M,) values)."""
    return torch.stack([info[k] for k in LossSums._fields], dim=dim)


def learner_threads(config: Config) -> int:
    """torch threads when --threads is 0: every core, but with --actors a core for each actor
    (up to all but one), which would otherwise wait on the learner's spinning threads."""
    cores = available_cores()
    return max(1, cores - min(config.actors, cores - 1)) if config.actors else cores


class Trainer:
    """One training run: its environments, agent, buffer, counters and files."""

    def __init__(self, config: Config, env: EnvLike | None = None, *,
                 resume: Loaded | None = None, run_dir: Path | None = None,
                 on_step: Callable[[StepContext], bool | None] | None = None,
                 on_eval: Callable[[dict[str, Any]], bool | None] | None = None,
                 storage: Callable[[tuple[int, int]], torch.Tensor] | None = None,
                 quiet: bool = False, label: str = "") -> None:
        """One run, or one member of a population (ddpg.population), which passes `storage`
        (the replay rows' tensor, given its shape), `quiet` (no set-up lines on stderr) and
        `label` (the start of its evaluation lines on stderr: its name)."""
        config = devices.resolve(config)  # `cpu` or `cuda:N`, checked, before anything is made
        self.config, self.on_step, self.on_eval = config, on_step, on_eval
        self.label = label
        if config.actors > 0:  # Ray first: an unreachable --address fails before the run folder
            from ddpg.distributed.cluster import join_ray

            join_ray(config.address)
        env = env if env is not None else config.env
        factory, self.env_name = env_factory(env)
        torch.set_num_threads(config.threads or learner_threads(config))
        torch.manual_seed(config.seed)  # network initialisation
        self.rngs = seed_streams(config.seed)

        n = config.num_envs
        self.envs = SameStepVectorEnv([lambda: EpisodeRecorder(factory())] * n)
        self.eval_env = factory()
        space = self.envs.single_action_space
        self.low, self.high = space.low.astype(np.float32), space.high.astype(np.float32)
        self.obs_dim = self.envs.single_observation_space.shape[0]
        self.action_dim = space.shape[0]
        goal_env = find_goal_env(self.envs.envs[0])  # goal-conditioned: ddpg.goals
        self.goal_layout = None if goal_env is None else goal_env.goal_layout
        if config.her.strategy != "none" and goal_env is None:
            raise ConfigError(f"her.strategy={config.her.strategy!r}: {self.env_name} is not "
                              f"goal-conditioned (its observations are not a Dict of "
                              f"{', '.join(GOAL_KEYS)} with compute_reward); hindsight replay "
                              f"needs such a task. Use --her.strategy none here.")
        capacity = min(config.buffer_size, config.total_steps)
        check_memory(config, self.obs_dim, self.action_dim, capacity, show=not quiet)
        self.agent = Agent(self.obs_dim, self.action_dim, config, self.rngs["noise"])
        if not quiet:
            log.info(self.agent.describe())
            cost = devices.gpu_cost(config)
            if cost:
                log.warning(f"warning: {cost}")
        shape = (capacity, 2 * self.obs_dim + self.action_dim + 2)
        priorities = Priorities(capacity, config.device) if config.replay == "lap" else None
        self.buffer = ReplayBuffer(capacity, self.obs_dim, self.action_dim, self.rngs["sampling"],
                                   config.device, storage(shape) if storage else None,
                                   priorities)
        if config.her.strategy != "none":  # every collector's environments, with --actors
            self.buffer.hindsight = Hindsight(capacity, n * max(config.actors, 1),
                                              self.goal_layout, config.her.strategy,
                                              config.her.k, goal_env.compute_reward,
                                              self.rngs["hindsight"])
        self.run_dir = run_dir or make_run_dir(config, self.env_name)
        self.checkpoints = CheckpointManager(self.run_dir / CHECKPOINT_DIR,
                                             config.keep_checkpoints)
        meta = {"env": self.env_name, "obs_dim": self.obs_dim, "action_dim": self.action_dim,
                "network": cfgmod.to_dict(config)["network"], "seed": config.seed,
                "algo": config.algo}
        if config.algo == "td7":
            meta["td7"] = {"embedding": config.td7.embedding,
                           "encoder_hidden": config.td7.encoder_hidden}
        if self.goal_layout is not None:  # ddpg.load(...).act takes the Dict observation too
            meta["goal"] = self.goal_layout.to_dict()
        self.policy = Policy(self.agent.policy_module, self.low, self.high, meta,
                             self.agent.obs_norm)
        self.seeds = episode_seeds(config.eval_seed, config.eval_episodes)
        self.eval_cap = episode_cap(self.eval_env, config.eval_max_steps)
        if self.eval_cap is not None and not quiet:
            log.warning(f"warning: {self.env_name} has no time limit (no max_episode_steps in "
                        f"its spec, no TimeLimit wrapper): training episodes end only where it "
                        f"ends them itself, and evaluation episodes after eval_max_steps="
                        f"{self.eval_cap} steps (--eval-max-steps).")
        self.evaluations: list[dict[str, Any]] = []
        self.env_source = env  # what collectors of --actors make their environments from
        self.remote = None  # with --actors, while running: the Ray collectors (ddpg.distributed)
        self._next_sync = 0

        # counters and accumulators: everything below is in the checkpoint
        # since the last evaluation: LossSums, on the device
        self.sums = torch.zeros(len(LossSums._fields), device=self.agent.device)
        self.n_sums = 0
        # the current observations and episodes: row `row` of Books (a population's are shared)
        obs_space = self.envs.single_observation_space
        self.books, self.row = Books(1, n, obs_space.shape, obs_space.dtype, self.action_dim,
                                     self.buffer.storage.unsqueeze(0)), 0
        self.books.low[0], self.books.high[0] = self.low, self.high
        self.episodes, self.step, self.skipped = 0, 0, 0
        self.owed = 0  # updates TD7's checkpoint rule released and not yet run
        self.eval_pending = False  # an evaluation is due at this step (cut short by a signal)
        self.next_eval = config.eval_every or config.total_steps
        self.next_checkpoint = config.checkpoint_every or config.total_steps
        self.signal_caught: int | None = None
        # this time round the loop (run_members): transitions collected, their rewards, whether
        # the run ends here; `stopped`: a callback ended it, or (in a population) it diverged
        self.new_transitions, self._reward, self.ending, self.stopped = 0, None, False, False
        self.group_evaluation = None  # an Evaluation its Group computed for it (evaluate_due)

        if resume is None:
            (self.run_dir / "config.yaml").write_text(
                cfgmod.to_yaml(dataclasses.replace(config, env=self.env_name)))
            self.log = RunLogger(self.run_dir, config.total_steps, config.tensorboard,
                                 config.progress, track=self._tracking(),
                                 columns=self._columns(), label=self.label)
            self.obs, _ = self.envs.reset(seed=[config.seed + i for i in range(n)])
            if self.agent.obs_norm is not None:
                self.agent.obs_norm.update(self.obs)
        else:
            self._load(resume)

    # --- checkpoints ----------------------------------------------------------------------------

    def _state(self) -> dict[str, Any]:
        return {
            "agent": self.agent.state_dict(),
            "counters": {"step": self.step, "episodes": self.episodes, "skipped": self.skipped,
                         "next_eval": self.next_eval, "next_checkpoint": self.next_checkpoint,
                         "n_sums": self.n_sums, "eval_pending": self.eval_pending,
                         "owed": self.owed},
            "sums": self.sums.cpu(),
            "episode": {"return": torch.from_numpy(self.ep_return.copy()),
                        "length": torch.from_numpy(self.ep_len.copy()),
                        "obs": torch.from_numpy(np.array(self.obs, dtype=np.float32)),
                        "envs": [e.episode_state() for e in self.envs.envs]},
            "rng": {"warmup": self.rngs["warmup"].bit_generator.state,
                    "sampling": self.rngs["sampling"].state_dict(),
                    "torch": torch.get_rng_state()},
            "log": self.log.state_dict(),
            "evaluations": self.evaluations,
            "priorities": None if self.buffer.priorities is None or not self.config.save_buffer
            else self.buffer.priorities.state_dict(),
            "hindsight": None if self.buffer.hindsight is None else self._hindsight_state(),
        }

    def _hindsight_state(self) -> dict[str, Any]:
        """The relabelling stream, and with the buffer saved its episode index (as tensors:
        checkpoints load with weights_only)."""
        s = self.buffer.hindsight.state_dict()
        index = {k: torch.from_numpy(v) for k, v in s["index"].items()}
        return {"stream": s["stream"], "index": index if self.config.save_buffer else None}

    def _load(self, loaded: Loaded) -> None:
        s = loaded.state
        try:
            self.agent.load_state_dict(s["agent"])
            c = s["counters"]
            self.step, self.episodes, self.skipped = c["step"], c["episodes"], c["skipped"]
            self.next_eval, self.next_checkpoint = c["next_eval"], c["next_checkpoint"]
            self.n_sums = c["n_sums"]
            self.eval_pending = bool(c.get("eval_pending", False))
            self.owed = int(c.get("owed", 0))
            self.sums.copy_(s["sums"])
            ep = s["episode"]
            self.ep_return, self.ep_len = ep["return"].numpy().copy(), ep["length"].numpy().copy()
            self.rngs["warmup"].bit_generator.state = s["rng"]["warmup"]
            self.rngs["sampling"].load_state_dict(s["rng"]["sampling"], self.config.seed,
                                                  self.step, "replay sampling")
            torch.set_rng_state(s["rng"]["torch"])
            self.evaluations = list(s["evaluations"])
            if loaded.buffer is not None:
                self.buffer.restore(loaded.buffer["total"], loaded.buffer["start"],
                                    loaded.buffer["rows"])
                if self.buffer.priorities is not None and s.get("priorities") is not None:
                    self.buffer.priorities.load_state_dict(s["priorities"])
            her = self.buffer.hindsight
            if her is not None and s.get("hindsight") is not None:
                h = s["hindsight"]
                her.stream.load_state_dict(h["stream"])
                if loaded.buffer is not None and h["index"] is not None:
                    her.index.load_state_dict({k: v.numpy() for k, v in h["index"].items()})
            obs = np.stack([e.restore(st) for e, st in zip(self.envs.envs, ep["envs"])])
        except (KeyError, TypeError, ValueError, RuntimeError) as e:
            raise CheckpointError(f"checkpoint of step {loaded.step} does not fit this run's "
                                  f"configuration: {e!r}") from e
        saved_obs = ep["obs"].numpy()
        if not np.array_equal(obs.astype(np.float32), saved_obs):
            log.warning("warning: replaying the current episode did not reproduce the saved "
                        "observation (the environment is not deterministic); the resumed run "
                        "continues from the replayed state and will differ from an "
                        "uninterrupted one.")
        self.obs = obs
        self.checkpoints.adopt(loaded)
        self.log = RunLogger(self.run_dir, self.config.total_steps, self.config.tensorboard,
                             self.config.progress, resume=s["log"], step=self.step,
                             track=self._tracking(), columns=self._columns(),
                             label=self.label)

    def _columns(self) -> tuple[str, ...]:
        return (COLUMNS + (SUCCESS_COLUMNS if self.goal_layout is not None else ())
                + (DISTRIBUTED_COLUMNS if self.config.actors > 0 else ()))

    def _tracking(self) -> tuple[str, dict[str, Any]] | None:
        c = self.config
        return (c.track_project, cfgmod.to_dict(c)) if c.track else None

    def save_checkpoint(self, prune: bool = True) -> Path:
        params = [*self.agent.actor.parameters(), *self.agent.critic.parameters()]
        if not all(bool(torch.isfinite(p).all()) for p in params):
            self._diverged("the network parameters")
        info = {"config": cfgmod.to_dict(self.config), "env": self.env_name}
        return self.checkpoints.save(self.step, self._state(), info,
                                     self.buffer if self.config.save_buffer else None, prune)

    def _diverged(self, what: str) -> None:
        steps = self.checkpoints.steps()
        kept = f"step {steps[-1]}, resume with `ddpg train --resume {self.run_dir}`" \
            if steps else "none yet"
        c = self.config
        raise TrainingError(
            f"training diverged: {what} became non-finite by step {self.step}. No checkpoint "
            f"was written; the last good one ({kept}) is kept. Try a lower learning rate "
            f"(actor_lr={c.actor_lr}, critic_lr={c.critic_lr}) or a smaller tau (tau={c.tau}).")

    # --- the loop -------------------------------------------------------------------------------

    @property
    def obs(self) -> np.ndarray:
        """The environments' current observations (num_envs, obs), a view of this run's row
        of its Books; assigning copies into it."""
        return self.books.obs[self.row]

    @obs.setter
    def obs(self, value: np.ndarray) -> None:
        self.books.obs[self.row] = value

    @property
    def ep_return(self) -> np.ndarray:
        """The current episodes' returns so far (num_envs,), a view of the Books' row."""
        return self.books.returns[self.row]

    @ep_return.setter
    def ep_return(self, value: np.ndarray) -> None:
        self.books.returns[self.row] = value

    @property
    def ep_len(self) -> np.ndarray:
        """The current episodes' lengths so far (num_envs,), a view of the Books' row."""
        return self.books.lengths[self.row]

    @ep_len.setter
    def ep_len(self, value: np.ndarray) -> None:
        self.books.lengths[self.row] = value

    def share_books(self, books: Books, row: int) -> None:
        """Keep the current observations and episodes in row `row` of `books` (a population's,
        shared by its members so that ddpg.collect keeps them all with one operation each)."""
        books.obs[row], books.returns[row], books.lengths[row] = (
            self.obs, self.ep_return, self.ep_len)
        books.low[row], books.high[row] = self.low, self.high
        self.books, self.row = books, row

    def step_action(self, action: np.ndarray | None = None) -> np.ndarray:
        """This step's action in normalised units, (num_envs, act): uniform during warm-up
        (the run's warm-up stream), else `action` (the policy's with noise) or the agent's,
        checked finite."""
        c, n = self.config, self.config.num_envs
        if self.step < c.warmup_steps:
            action = self.rngs["warmup"].uniform(-1.0, 1.0, (n, self.action_dim))
            return action.astype(np.float32)
        if action is None:
            action = self.agent.act(self.obs, self.step)
        if not np.isfinite(action).all():
            self._diverged("the policy's actions")
        return action

    def _collect_remote(self) -> tuple[np.ndarray, int]:
        """The next chunk from the collectors into the buffer (with --learner-rate max after
        warm-up, only one that has already arrived). Returns its rewards and transitions."""
        c = self.config
        wait = 0.0 if c.learner_rate == "max" and self.step >= c.warmup_steps else None
        chunk = self.remote.next_chunk(wait)
        if chunk is None:
            return np.zeros(0), 0
        steps, rows = chunk["steps"], len(chunk["rewards"])
        if self.step + steps > c.total_steps:  # the run ends at total_steps exactly
            steps = c.total_steps - self.step
            rows = min(rows, steps)
        if rows:
            fields = [chunk[k][:rows] for k in ("obs", "actions", "rewards", "next_obs",
                                                 "terminated")]
            pos = self.buffer.pos
            self.buffer.add(*fields)
            if self.buffer.hindsight is not None:  # collector i's env e: i * num_envs + e
                self.buffer.hindsight.index.added_chunk(chunk, pos, rows,
                                                        chunk["index"] * c.num_envs)
            if self.agent.obs_norm is not None:
                self.agent.obs_norm.update(fields[3])
        self.skipped += chunk["skipped"]
        self.step += steps
        for ret, length in chunk["episodes"]:
            self.episode_ended(ret, length)
        self.remote.note_lag(self.agent.updates, chunk["version"])
        return chunk["rewards"][:rows], steps

    def send_weights(self) -> None:
        """The actor's weights (and observation statistics) to the collectors."""
        a = self.agent
        self.remote.send_weights({
            "actor": {k: v.detach().cpu() for k, v in a.actor.state_dict().items()},
            "obs_norm": None if a.obs_norm is None else a.obs_norm.state_dict(),
            "version": a.updates})
        self._next_sync = a.updates + self.config.sync_every

    def episode_ended(self, episode_return: float, length: int) -> None:
        """A training episode ended at this step: counted and logged, and after warm-up told to
        the agent (TD7's checkpoint rule may release held-back updates: `owed`)."""
        self.episodes += 1
        self.log.episode(self.step, episode_return, length)
        if self.step >= self.config.warmup_steps:
            released = self.agent.episode_ended(length, episode_return)
            self.owed += released * self.config.updates_per_step

    def update(self, transitions: int) -> None:
        """updates_per_step updates per new transition from the warmup_steps-th on, as one
        process counts them (with --actors --learner-rate max: one update each time round the
        loop, whatever arrived); under TD7's policy checkpoints, the updates the episodes that
        ended released (`owed`: a signal stops them between two updates, and the rest run
        first thing after resume, so that a burst of a thousand updates does not hold up
        Ctrl-C). With LAP replay the sampled rows get their new priorities after each
        update."""
        c = self.config
        if self.agent.holds_updates:
            while self.owed and self.signal_caught is None:
                self._update_once()
                self.owed -= 1
            return
        if self.remote is not None:  # a chunk that ends warm-up: only its transitions from there
            transitions = min(transitions, self.step - c.warmup_steps + 1)
        n = 1 if self.remote is not None and c.learner_rate == "max" else \
            c.updates_per_step * transitions
        for _ in range(n):
            self._update_once()

    def _update_once(self) -> None:
        """One update on a sampled batch (with LAP: the rows' new priorities fed back, and the
        largest reset at each target refresh), its losses summed."""
        idx = self.buffer.sample_indices(self.config.batch_size)
        info = self.agent.update(self.buffer.gather(idx))
        self.buffer.learned(idx, info)
        self.sums += loss_sums(info)
        self.n_sums += 1

    def _evaluate(self) -> dict[str, Any] | None:
        """The evaluation row, or None when a signal arrived during it (it is then redone
        first thing after resume, so a resumed run logs the same rows)."""
        def act(o: np.ndarray) -> np.ndarray:
            return to_env_action(self.agent.act(o[None])[0], self.low, self.high)

        ev, self.group_evaluation = self.group_evaluation, None  # (several members at once)
        if ev is None:
            ev = evaluate(act, self.eval_env, self.seeds, self.agent.q_value, self.config.gamma,
                          max_steps=self.eval_cap,
                          should_stop=lambda: self.signal_caught is not None)
        if ev is None:
            return None
        sums = LossSums(*self.sums.tolist())  # the one host sync per evaluation
        n, actor_n = max(self.n_sums, 1), sums.actor_updated
        means = [sums.critic_loss / n, sums.actor_loss / max(actor_n, 1), sums.q / n]
        if self.n_sums and not all(math.isfinite(x) for x in means):
            self._diverged(f"the losses (critic {means[0]}, actor {means[1]})")
        has = bool(self.n_sums)
        returns = ev.returns
        row = {"step": self.step, "episodes": self.episodes, "updates": self.agent.updates,
               "eval_return_mean": float(returns.mean()), "eval_return_std": float(returns.std()),
               "train_return_last": "" if self.log.last_episode is None else self.log.last_episode,
               "critic_loss": means[0] if has else "",
               "actor_loss": means[1] if has and actor_n else "",
               "q_mean": means[2] if has else "", "sigma": self.agent.noise.schedule(self.step),
               "q_estimate": ev.q_estimate, "mc_return": ev.mc_return,
               "episode_returns": ev.returns.tolist(), "episode_lengths": ev.lengths.tolist()}
        if ev.successes is not None:  # the environment reports info["is_success"]
            row["eval_success_rate"] = float(ev.successes.mean())
        if self.remote is not None:
            row.update(self.remote.stats(self.agent.updates, len(self.buffer),
                                         self.buffer.capacity))
        self.sums.zero_()
        self.n_sums = 0
        return row

    def _keep_evaluation(self, row: dict[str, Any]) -> None:
        """Append the row, rewrite evaluations.npz, and save best_policy.pt when the mean return
        beats every earlier evaluation (as SB3's EvalCallback keeps its best model)."""
        best = max((r["eval_return_mean"] for r in self.evaluations), default=-math.inf)
        self.evaluations.append(row)
        write_evaluations(self.run_dir / EVALUATIONS_FILE, self.evaluations)
        if row["eval_return_mean"] > best:
            self.policy.save(self.run_dir / BEST_POLICY_FILE, step=row["step"],
                             eval_return_mean=row["eval_return_mean"])

    # --- one time round the loop, in phases (run_members calls them for every member) ------

    def collect_from_actors(self) -> None:
        """Collect from the collectors of --actors (unless an evaluation is pending); from the
        environments, ddpg.collect collects."""
        if self.begin_round():
            self._reward, self.new_transitions = self._collect_remote()

    def begin_round(self) -> bool:
        """Start this time round the loop with nothing collected; False while an evaluation is
        pending (nothing is collected then)."""
        self.new_transitions, self._reward = 0, None
        return not self.eval_pending

    def collected(self, reward: np.ndarray) -> None:
        """What this time round collected: one transition per environment, these rewards."""
        self._reward, self.new_transitions = reward, self.config.num_envs

    def after_update(self) -> None:
        """Weights to the collectors, the step callback, and whether an evaluation is due."""
        c = self.config
        if self.eval_pending:
            return
        if self.remote is not None and self.step >= c.warmup_steps \
                and self.agent.updates >= self._next_sync:
            self.send_weights()
        if self.new_transitions and self.on_step is not None and self.on_step(
                StepContext(self.step, self.episodes, self._reward, self.agent)) is False:
            self.stopped = True
        self.ending = self.step >= c.total_steps or self.stopped
        self.eval_pending = self.step >= self.next_eval or self.ending

    def finish_step(self, prune: bool = True) -> bool:
        """Evaluate when due, checkpoint when due (`prune`: delete old checkpoints at once;
        a population prunes after all its members saved). Returns whether it checkpointed."""
        c, end, saved = self.config, self.ending, False
        self.ending = False
        if self.eval_pending and (row := self._evaluate()) is not None:
            self.eval_pending = False
            end = end or self.step >= c.total_steps
            while self.next_eval <= self.step:
                self.next_eval += c.eval_every or c.total_steps
            self.log.evaluation(row)
            self._keep_evaluation(row)
            if self.on_eval is not None and self.on_eval(row) is False:
                self.stopped = end = True
        if self.step >= self.next_checkpoint or end or self.signal_caught is not None:
            while self.next_checkpoint <= self.step:
                self.next_checkpoint += c.checkpoint_every or c.total_steps
            self.save_checkpoint(prune)
            self.policy.save(self.run_dir / POLICY_FILE)
            saved = True
        if self.new_transitions and self.step % 100 < self.new_transitions:
            self.log.step(self.step)
        return saved

    @property
    def running(self) -> bool:
        return (self.step < self.config.total_steps or self.eval_pending) and not self.stopped

    def close(self) -> None:
        self.log.close()
        self.envs.close()
        self.eval_env.close()
        if self.remote is not None:
            self.remote.close()
            self.remote = None

    def result(self) -> TrainResult:
        return TrainResult(self.agent, self.policy, self.run_dir, self.buffer, self.evaluations,
                           self.log.elapsed)

    def run(self) -> TrainResult:
        """Train to total_steps (or until a callback says stop): run_members with this one."""
        run_members([self])
        return self.result()


class Group:
    """How run_members treats its members together. This one, for a single run: each member
    acts and updates on its own, saves its checkpoints on its own, and a member that diverges
    stops the run (TrainingError). ddpg.population.Population acts and updates all members at
    once, commits their checkpoints together, and lets the others go on when one diverges."""

    run_dir: Path | None = None  # where Interrupted tells the user to resume; None: the member's

    def act(self, members: list[Trainer]) -> list[np.ndarray]:
        return [m.agent.act(m.obs, m.step) for m in members]

    def collect(self, members: list[Trainer], actions: dict[int, np.ndarray],
                guarded: Callable[[Trainer, Callable[[], Any]], Any]) -> None:
        """Each member's collection step with its action (`actions` by id; none in warm-up),
        through `guarded` (a member that diverges is handed to `diverged`): ddpg.collect with
        this member alone, or from its collectors with --actors."""
        for m in members:
            if m.remote is None:
                collect([m], actions, guarded)
            else:
                guarded(m, m.collect_from_actors)

    def update(self, members: list[Trainer], transitions: int) -> None:
        for m in members:
            m.update(transitions)

    def commit(self, members: list[Trainer]) -> None:
        """After every member that checkpointed this step did so (they already pruned)."""

    def diverged(self, member: Trainer, error: TrainingError) -> None:
        raise error

    def evaluate_due(self, members: list[Trainer]) -> None:
        """Before the members whose evaluation is due evaluate: a group may evaluate them all
        at once here (setting each one's _evaluation); by default each evaluates alone."""

    @property
    def prune_each(self) -> bool:
        return True


def run_members(members: list[Trainer], group: Group | None = None) -> None:
    """The loop, for one run or a population in lockstep (the same step counter, warm-up and
    schedule): collect with exploration noise, update, evaluate, log, checkpoint. SIGINT and
    SIGTERM checkpoint every member and raise Interrupted; a second signal leaves at once."""
    group = group or Group()
    c = members[0].config
    caught: list[int] = []

    def on_signal(signum: int, frame: Any) -> None:
        if caught:  # a second signal: leave now; checkpoints are atomic
            os._exit(128 + signum)
        caught.append(signum)
        for m in members:
            m.signal_caught = signum

    def guarded(member: Trainer, phase: Callable[[], Any]) -> Any:
        try:
            return phase()
        except TrainingError as e:
            member.stopped = True
            group.diverged(member, e)
            return None

    handlers = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            handlers[sig] = signal.signal(sig, on_signal)
    try:
        if c.actors > 0:
            from ddpg.distributed.learner import RemoteCollection

            (m,) = members  # (a population with --actors is refused by its config check)
            m.remote = RemoteCollection(c, m.env_source, m.low, m.high, cfgmod.to_dict(c),
                                        m.run_dir)
            m.send_weights()
            m.remote.start(m.step)
        while live := [m for m in members if m.running]:
            owing = [m for m in live if m.owed and not m.stopped]  # (a burst cut by a signal)
            if owing:
                group.update(owing, 0)
            collecting = [m for m in live if not m.eval_pending]
            acting = [m for m in collecting if m.remote is None and m.step >= c.warmup_steps]
            actions = dict(zip(map(id, acting), group.act(acting))) if acting else {}
            group.collect(live, actions, guarded)
            updating = [m for m in collecting if not m.stopped and m.step >= c.warmup_steps]
            if updating:
                group.update(updating, updating[0].new_transitions)
            for m in live:
                if not m.stopped:
                    guarded(m, m.after_update)
            due = [m for m in live if not m.stopped and m.eval_pending]
            if due:
                group.evaluate_due(due)
            saved = [m for m in live
                     if (not m.stopped or m.ending) and guarded(m, lambda: m.finish_step(
                         group.prune_each))]
            if saved:
                group.commit(saved)
            if caught:
                step = max(m.step for m in members)
                raise Interrupted(caught[0], group.run_dir or members[0].run_dir, step)
    finally:
        for sig, h in handlers.items():
            signal.signal(sig, h)
        for m in members:
            m.close()


def train(config: Config | None = None, env: EnvLike | None = None, *,
          on_step: Callable[[StepContext], bool | None] | None = None,
          on_eval: Callable[[dict[str, Any]], bool | None] | None = None) -> TrainResult:
    """Train DDPG. `env` is an environment id, a gymnasium.Env or a function returning one
    (default: config.env). A callback returning False stops training early. Returns the agent,
    the noise-free policy (also saved as run_dir/policy.pt), the buffer and the evaluation rows.
    Checkpoints go to run_dir/checkpoints; `resume(run_dir)` continues an interrupted run.
    A failure while the run is set up (a bad input, Ctrl-C) leaves no run folder behind."""
    with removed_on_failure():
        trainer = Trainer(config or cfgmod.resolve(), env, on_step=on_step, on_eval=on_eval)
    return trainer.run()
