"""`ddpg eval`, `ddpg export`, `ddpg presets`: the commands about a trained policy and the presets
(`ddpg train` is in ddpg.cli, which dispatches to these)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from ddpg import config as cfgmod
from ddpg import presets
from ddpg.config import Config
from ddpg.errors import EXIT_STATUS, ConfigError


def cmd_eval(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(prog="ddpg eval", epilog=EXIT_STATUS, description=(
        "Evaluate a trained policy without exploration noise and print the mean and standard "
        "deviation of its return. Given a population folder (ddpg train --seeds), evaluate "
        "every member on the same episode seeds and print the interquartile mean of their "
        "returns with its 95 % bootstrap confidence interval."))
    p.add_argument("path", help="run directory, population folder, policy file (policy.pt) or "
                                "stable-baselines3 DDPG/TD3 model.zip (with --env)")
    p.add_argument("--episodes", type=int, default=20, help="episodes to run (default: 20)")
    p.add_argument("--seed", type=int, default=2_000_000,
                   help="seed of the first episode; episode i uses seed+i (default: 2000000, "
                        "apart from the seeds training evaluates on)")
    p.add_argument("--env", default=None, help="environment id (default: the one it was "
                   "trained on)")
    p.add_argument("--max-steps", type=int, default=Config.eval_max_steps,
                   help="cut episodes after this many steps where the environment has no time "
                        f"limit of its own (default: {Config.eval_max_steps})")
    p.add_argument("--video", type=Path, default=None, metavar="OUT.mp4",
                   help="also record the episodes as a video (environments that render "
                        "rgb_array; needs the video extra: pip install -e '.[video]'; MuJoCo "
                        "offscreen: set MUJOCO_GL=egl or osmesa)")
    a = p.parse_args(argv)
    if a.episodes < 1:
        p.error(f"--episodes {a.episodes}: use 1 or more episodes")
    from ddpg.envs import make
    from ddpg.evaluation import episode_cap, episode_seeds, evaluate
    from ddpg.policy import load
    from ddpg.untrusted import env_from_file

    from ddpg.population.summary import MANIFEST

    if (Path(a.path) / MANIFEST).is_file():
        if a.video is not None:
            p.error(f"--video records one policy; name a member of {a.path} instead")
        return _eval_population(Path(a.path), a)
    policy = load(a.path, env=a.env)
    if a.env is None and policy.metadata.get("env") is None:
        raise ConfigError(f"{a.path!r} does not say which environment it was trained on (a "
                          f"stable-baselines3 model.zip does not store it); pass --env ID, "
                          f"e.g. --env Pendulum-v1.")
    # an id read from the file never imports a module (ddpg.untrusted.env_from_file)
    env_id = a.env or env_from_file(policy.metadata.get("env"), f"the policy {a.path}")
    if a.video is None:
        env = make(env_id)
    else:
        from ddpg.video import finish, recording_env

        env, partial = recording_env(env_id, a.video)
    cap = episode_cap(env, a.max_steps)
    if cap is not None:
        print(f"warning: {env_id} has no time limit; evaluation episodes end after {cap} steps "
              f"(--max-steps).", file=sys.stderr)
    done = False
    try:
        ev = evaluate(policy.act, env, episode_seeds(a.seed, a.episodes), max_steps=cap)
        done = True
    finally:
        if a.video is not None:
            finish(env, partial, a.video, done)
    returns = ev.returns
    print(f"{env_id}: return {returns.mean():.1f} +- {returns.std():.1f}{_success(ev)} over "
          f"{a.episodes} episodes (seeds {a.seed}..{a.seed + a.episodes - 1})")
    if a.video is not None:
        print(f"video: {a.video} ({env.frames} frames)")
    return 0


def _success(ev) -> str:
    """', success 0.95' where the environment reported info["is_success"], else ''."""
    return "" if ev.successes is None else f", success {ev.successes.mean():.2f}"


def _eval_population(folder: Path, a: argparse.Namespace) -> int:
    """Every member of a population (the run directories inside `folder` that hold a policy;
    found on disk, so no name read from population.json becomes a path) on the same seeds."""
    import numpy as np

    from ddpg.envs import make
    from ddpg.evaluation import (episode_cap, episode_seeds, evaluate, iqm,
                                 stratified_bootstrap_ci)
    from ddpg.policy import POLICY_FILE, load
    from ddpg.rundir import run_dirs_in
    from ddpg.untrusted import env_from_file

    members = run_dirs_in(folder)
    finals: dict[str, float] = {}
    for run in members:
        if not (run / POLICY_FILE).is_file():
            print(f"{run.name}: no {POLICY_FILE} (the member diverged or was stopped before "
                  f"its first evaluation)")
            continue
        policy = load(run, env=a.env)
        env_id = a.env or env_from_file(policy.metadata.get("env"), f"the policy {run}")
        env = make(env_id)
        ev = evaluate(policy.act, env, episode_seeds(a.seed, a.episodes),
                      max_steps=episode_cap(env, a.max_steps))
        env.close()
        returns = ev.returns
        finals[run.name] = float(returns.mean())
        print(f"{run.name}: {env_id}: return {returns.mean():.1f} +- {returns.std():.1f}"
              f"{_success(ev)}", flush=True)
    if not finals:
        print(f"ddpg eval: error: no member of the population {str(folder)!r} has a policy yet.",
              file=sys.stderr)
        return 1
    scores = np.array(list(finals.values()))
    ci = stratified_bootstrap_ci({"population": scores}, iqm, rng=np.random.default_rng(0))
    print(f"population {folder}: {len(scores)} members, return IQM {ci.point:.1f} "
          f"[95 % CI {ci.low:.1f}, {ci.high:.1f}], mean {scores.mean():.1f}, min "
          f"{scores.min():.1f}, max {scores.max():.1f} over {a.episodes} episodes each (seeds "
          f"{a.seed}..{a.seed + a.episodes - 1})")
    return 0


def cmd_export(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(prog="ddpg export", epilog=EXIT_STATUS, description=(
        "Export the noise-free policy, raw observation in ('obs', float32, any batch) to action "
        "in the environment's units out ('action'), normalisation and rescaling included. ONNX "
        "runs with onnxruntime and numpy alone (the export extra: pip install -e "
        "'.[export]'), TorchScript with torch alone; FILE.json gives shapes, bounds, env, "
        "algorithm, versions and the normalisation statistics."))
    p.add_argument("path", help="run directory, policy file (policy.pt) or stable-baselines3 "
                                "model.zip")
    p.add_argument("--format", choices=("onnx", "torchscript"), default="onnx",
                   help="file format (default: onnx)")
    p.add_argument("--out", type=Path, default=None, metavar="FILE",
                   help="file to write (default: policy.onnx or policy.torchscript.pt in the run "
                        "directory, or beside the policy file); FILE.json is written beside it")
    p.add_argument("--env", default=None, help="for a stable-baselines3 model.zip whose action "
                   "bounds are stored only pickled: the environment id to take them from")
    a = p.parse_args(argv)
    from ddpg.population.summary import MANIFEST
    from ddpg.rundir import run_dirs_in

    if (Path(a.path) / MANIFEST).is_file():
        member = next(iter(run_dirs_in(Path(a.path))), Path(a.path) / "MEMBER")
        raise ConfigError(f"{a.path!r} is a population (ddpg train --seeds), one run folder per "
                          f"member; export one member's policy, e.g. ddpg export {member}")
    from ddpg.export import default_path, export
    from ddpg.policy import load
    from ddpg.rundir import locate_run

    policy = load(a.path, env=a.env)
    out = a.out or default_path(locate_run(a.path, "export"), a.format)
    written, side = export(policy, a.format, out)
    print(f"{a.format}: {written}\ndescription: {side}")
    return 0


def cmd_presets(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(prog="ddpg presets", epilog=EXIT_STATUS, description=(
        "List the named presets and the values in which each differs from the defaults, or "
        "show one preset whole as a config file: ddpg's YAML (usable with --config) or an "
        "rl-baselines3-zoo hyperparameter entry."))
    p.add_argument("--show", metavar="NAME", help="write this preset whole")
    p.add_argument("--format", choices=("ddpg", "zoo"), default="ddpg",
                   help="with --show: ddpg's config YAML, or rl-zoo's format (default: ddpg)")
    a = p.parse_args(argv)
    if a.show is not None:
        cfg = cfgmod.from_preset(a.show)
        if a.format == "zoo":
            from ddpg.interop.zoo import to_zoo

            print(to_zoo(cfgmod.to_dict(cfg), cfg.env), end="")
        else:
            print(cfgmod.to_yaml(cfg), end="")
        return 0
    if a.format != "ddpg":
        p.error("--format applies to --show NAME")
    env_for = {v: f"--env {k[0]} --algo {k[1]}" for k, v in presets.ENV_PRESETS.items()}
    for name in presets.PRESETS:
        extra = f" (used by default for {env_for[name]})" if name in env_for else ""
        print(f"{name}: {presets.PRESET_DESCRIPTIONS.get(name, '')}{extra}")
        diff = cfgmod.diff_from_defaults(cfgmod.from_preset(name))
        if not diff:
            print("    (the defaults' values)")
        for k, v in diff.items():
            print(f"    {k} = {v!r}")
    return 0
