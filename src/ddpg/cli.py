"""`ddpg` command line: train, eval, export, presets; train's flags come from config.Config.

Further commands come from installed packages through the entry-point group `ddpg.commands`
(name = "module:function", the function taking the arguments after the command and returning an
exit code, its docstring's first line the summary): ddpg's own tooling registers plot, benchmark
and speed (ddpg.bench) that way, so nothing here imports it."""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Annotated, Sequence

import tyro

from ddpg import config as cfgmod
from ddpg import presets
from ddpg.config import Config
from ddpg.errors import ConfigError, DDPGError, EnvError

PLUGIN_GROUP = "ddpg.commands"


@dataclass(frozen=True)
class TrainArgs:
    config_values: Annotated[Config, tyro.conf.arg(name="")]
    preset: str | None = None
    """Named preset (see `ddpg presets`); default: the tuned preset of --env and --algo, else
    'default'. Precedence: defaults < preset < --config file < flags."""
    config: Path | None = None
    """YAML file of config values applied on top of the preset."""
    resume: Path | None = None
    """Continue the run in this directory from its newest valid checkpoint, with its saved
    config; only --total-steps may be given with it (to extend the run)."""


TRAIN_DESCRIPTION = """Train DDPG and write a run directory: config.yaml (the resolved config),
metrics.csv (one row per evaluation), tb/ (TensorBoard), checkpoints/ (full training state, for
--resume) and policy.pt (the trained policy). The defaults shown are those of the chosen preset
and config file. SIGINT/SIGTERM write a checkpoint and exit with 130/143; a second Ctrl-C exits
at once."""


def _pre_parse(argv: Sequence[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--preset")
    p.add_argument("--config")
    p.add_argument("--env")
    p.add_argument("--algo")
    p.add_argument("--total-steps", type=int)
    known, _ = p.parse_known_args(argv)
    return known


# Flags --resume accepts: the step budget, the environment (only to confirm the saved one), and
# what is shown; everything else would make the resumed run another run.
RESUME_FLAGS = {"--resume", "--total-steps", "--env", "--progress", "--no-progress",
                "--tensorboard", "--no-tensorboard", "--address"}


def _resume_args(argv: Sequence[str]) -> argparse.Namespace | None:
    """The flags of `ddpg train --resume RUN ...`, parsed without building a preset's config
    (the run's own config is in its checkpoint); None when --resume is not given."""
    p = argparse.ArgumentParser(prog="ddpg train", add_help=False)
    p.add_argument("--resume", type=Path)
    p.add_argument("--total-steps", type=int)
    p.add_argument("--env")
    p.add_argument("--address")
    for name in ("progress", "tensorboard"):
        p.add_argument(f"--{name}", action=argparse.BooleanOptionalAction)
    known, rest = p.parse_known_args(argv)
    if known.resume is None or any(a in ("-h", "--help") for a in argv):
        return None
    given = {a.split("=")[0] for a in argv if a.startswith("--")}
    extra = sorted((given - RESUME_FLAGS) | {a for a in rest if not a.startswith("--")})
    if extra:
        raise ConfigError(f"--resume continues a run with its saved config; drop "
                          f"{', '.join(extra)} (only {', '.join(sorted(RESUME_FLAGS))} may be "
                          f"given: they extend the run, change only what is shown, or where a "
                          f"distributed run's actors run).")
    return known


def cmd_train(argv: Sequence[str]) -> int:
    from ddpg.errors import Interrupted
    from ddpg.resume import resume
    from ddpg.trainer import train

    again = _resume_args(argv)
    try:
        if again is not None:
            shown = {k: getattr(again, k) for k in ("progress", "tensorboard", "address")
                     if getattr(again, k) is not None}
            result = resume(again.resume, again.env, total_steps=again.total_steps, **shown)
        else:
            pre = _pre_parse(argv)
            if pre.env is not None and not any(a in ("-h", "--help") for a in argv):
                from ddpg.envs import make

                make(pre.env).close()  # the real problem first: an unknown id, a Discrete space
            base = cfgmod.resolve(pre.preset, pre.config, pre.env, pre.algo)
            if pre.total_steps is not None and pre.total_steps > 0:
                given = {a.split("=")[0][2:].replace("-", "_") for a in argv
                         if a.startswith("--")} | cfgmod.file_keys(pre.config, base, pre.env)
                try:
                    base, notes = cfgmod.fit_budget(base, pre.total_steps, given)
                except ConfigError:  # explicit values decide; the flags below are checked whole
                    notes = []
                for note in notes:
                    print(f"ddpg train: {note}", file=sys.stderr)
            args = tyro.cli(TrainArgs, args=list(argv), prog="ddpg train",
                            description=TRAIN_DESCRIPTION,
                            default=TrainArgs(base, pre.preset,
                                              Path(pre.config) if pre.config else None))
            result = train(args.config_values)
    except Interrupted as e:
        print(f"ddpg train: {e}", file=sys.stderr)
        return e.exit_code
    print(f"policy:       {result.run_dir / 'policy.pt'}")
    last = result.evaluations[-1]
    print(f"eval return:  {last['eval_return_mean']:.1f} +- {last['eval_return_std']:.1f} over "
          f"{result.agent.config.eval_episodes} episodes at "
          f"step {last['step']}")
    print(f"wall time:    {result.wall_time_s:.1f} s")
    return 0


def cmd_eval(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(prog="ddpg eval", description=(
        "Evaluate a trained policy without exploration noise and print the mean and standard "
        "deviation of its return."))
    p.add_argument("path", help="run directory, policy file (policy.pt) or stable-baselines3 "
                                "DDPG/TD3 model.zip (with --env)")
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

    policy = load(a.path, env=a.env)
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
        returns = evaluate(policy.act, env, episode_seeds(a.seed, a.episodes),
                           max_steps=cap).returns
        done = True
    finally:
        if a.video is not None:
            finish(env, partial, a.video, done)
    print(f"{env_id}: return {returns.mean():.1f} +- {returns.std():.1f} over {a.episodes} "
          f"episodes (seeds {a.seed}..{a.seed + a.episodes - 1})")
    if a.video is not None:
        print(f"video: {a.video} ({env.frames} frames)")
    return 0


def cmd_export(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(prog="ddpg export", description=(
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
    from ddpg.export import default_path, export
    from ddpg.policy import load
    from ddpg.rundir import locate_run

    policy = load(a.path, env=a.env)
    out = a.out or default_path(locate_run(a.path, "export"), a.format)
    written, side = export(policy, a.format, out)
    print(f"{a.format}: {written}\ndescription: {side}")
    return 0


def cmd_presets(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(prog="ddpg presets", description=(
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


COMMANDS = {"train": cmd_train, "eval": cmd_eval, "export": cmd_export, "presets": cmd_presets}
SUMMARIES = {"train": "train a policy (bare `ddpg train` solves Pendulum-v1 with the `pendulum` "
                      "preset)",
             "eval": "noise-free mean and std of a trained policy's return",
             "export": "a trained policy as ONNX or TorchScript, to run without ddpg",
             "presets": "list the named presets and how they differ from the defaults"}


def plugins() -> dict[str, EntryPoint]:
    """The commands other installed packages register in the entry-point group ddpg.commands
    (a name of ddpg's own commands is not taken over)."""
    return {ep.name: ep for ep in entry_points(group=PLUGIN_GROUP) if ep.name not in COMMANDS}


def usage() -> str:
    lines = ["usage: ddpg COMMAND [OPTIONS]", "",
             "Deep Deterministic Policy Gradient (DDPG) for continuous control.", "", "commands:"]
    summaries = dict(SUMMARIES)
    for name, ep in sorted(plugins().items()):
        try:
            doc = (ep.load().__doc__ or "").strip()
            summaries[name] = " ".join(doc.split("\n\n")[0].split()).rstrip(".") or ep.value
        except Exception as e:  # noqa: BLE001 - a broken plugin must not break --help
            summaries[name] = f"(unavailable: {type(e).__name__}: {e})"
    for name, text in summaries.items():
        lines += textwrap.wrap(text, 96, initial_indent=f"  {name:<10}", subsequent_indent=" " * 12)
    lines += ["", "Run `ddpg COMMAND --help` for a command's options."]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0 if argv else 2
    if argv[0] in ("-V", "--version"):
        from ddpg.version import __version__

        print(f"ddpg {__version__}")
        return 0
    command = COMMANDS.get(argv[0])
    if command is None:
        extra = plugins()
        if argv[0] not in extra:
            import difflib

            names = [*COMMANDS, *sorted(extra)]
            close = difflib.get_close_matches(argv[0], names, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            print(f"ddpg: unknown command {argv[0]!r}.{hint} Commands: {', '.join(names)}.",
                  file=sys.stderr)
            return 2
        command = extra[argv[0]].load()
    try:
        return command(argv[1:])
    except (ConfigError, EnvError) as e:  # usage errors
        print(f"ddpg {argv[0]}: error: {e}", file=sys.stderr)
        return 2
    except DDPGError as e:
        print(f"ddpg {argv[0]}: error: {e}", file=sys.stderr)
        return 1
    except SystemExit as e:  # argument parsing: --help (0) or a usage error (2)
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
    except BrokenPipeError:  # output piped into e.g. `head`, which stopped reading
        sys.stdout = open(os.devnull, "w")
        return 0
    except KeyboardInterrupt:
        print("ddpg: interrupted.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
