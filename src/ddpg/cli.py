"""`ddpg` command line: train (its flags come from config.Config); eval, export and presets are in
ddpg.commands.

Further commands come from installed packages through the entry-point group `ddpg.commands`
(name = "module:function", the function taking the arguments after the command and returning an
exit code, its docstring's first line the summary): ddpg's own tooling registers plot, benchmark
and speed (ddpg.bench) that way, so nothing here imports it."""

from __future__ import annotations

import argparse
import ast
import importlib.util
import os
import sys
import textwrap
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Annotated, Sequence

import tyro

from ddpg import config as cfgmod
from ddpg.commands import cmd_eval, cmd_export, cmd_presets
from ddpg.config import Config
from ddpg.errors import EXIT_STATUS, ConfigError, DDPGError

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
    """Continue the run (or population) in this directory from its newest valid checkpoint,
    with its saved config; only --total-steps (to extend it), --threads, --device (to go on on
    another device), --[no-]progress, --[no-]tensorboard, --env (the saved one) and --address
    may be given with it."""
    seeds: str = ""
    """Train a population: one member per seed ('0-9', '0,3,7'), all in this process with one
    batched update; each member's run directory is inside the population's folder."""
    sweep: tuple[str, ...] = ()
    """A population of every combination of these values, FIELD=V1,V2,..., for each of the
    --seeds (or the one --seed). Fields that do not change a tensor's shape: actor_lr,
    critic_lr, critic_weight_decay, tau, gamma, noise.*, td3.target_noise(_clip)."""


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


# Flags --resume accepts: the step budget, the environment (only to confirm the saved one), what
# is shown, torch's threads (the thread count the run had gives it the same bits) and the device
# (a run written on a GPU goes on on a CPU or another GPU);
# everything else would make the resumed run another run.
RESUME_FLAGS = {"--resume", "--total-steps", "--env", "--progress", "--no-progress",
                "--tensorboard", "--no-tensorboard", "--address", "--threads", "--device"}


def _resume_args(argv: Sequence[str]) -> argparse.Namespace | None:
    """The flags of `ddpg train --resume RUN ...`, parsed without building a preset's config
    (the run's own config is in its checkpoint); None when --resume is not given."""
    p = argparse.ArgumentParser(prog="ddpg train", add_help=False)
    p.add_argument("--resume", type=Path)
    p.add_argument("--total-steps", type=int)
    p.add_argument("--env")
    p.add_argument("--address")
    p.add_argument("--threads", type=int)
    p.add_argument("--device")
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
                          f"given: they extend the run, change only what is shown, torch's "
                          f"threads, the device, or where a distributed run's actors run).")
    return known


def _population_done(result) -> int:
    """What `ddpg train --seeds` prints at the end: where, and each member's final return."""
    print(f"population:   {result.directory} (summary.md, one run directory per member)")
    for name, ret in result.final_returns().items():
        shown = "diverged" if result.status[name] == "diverged" else \
            ("no evaluation" if ret is None else f"{ret:.1f}")
        print(f"  {name:<24} eval return {shown}")
    print(f"wall time:    {result.wall_time_s:.1f} s")
    return 0


def cmd_train(argv: Sequence[str]) -> int:
    from ddpg.system import interruptible

    with interruptible():  # Ctrl-C and SIGTERM stop the set-up too, even in the background
        return _train(argv)


def _train(argv: Sequence[str]) -> int:
    # torch (through ddpg.trainer) is imported only once the flags are read: --help and a
    # mistyped flag answer in a fraction of a second
    from ddpg.errors import Interrupted

    again = _resume_args(argv)
    try:
        if again is not None:
            shown = {k: getattr(again, k) for k in ("progress", "tensorboard", "address",
                                                    "threads", "device")
                     if getattr(again, k) is not None}
            from ddpg.population import is_population, resume_population

            if is_population(again.resume):
                shown.pop("address", None)
                return _population_done(resume_population(
                    again.resume, again.env, total_steps=again.total_steps, **shown))
            from ddpg.resume import resume

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
            else:
                notes = []
            args = tyro.cli(TrainArgs, args=list(argv), prog="ddpg train",
                            description=f"{TRAIN_DESCRIPTION}\n\n{EXIT_STATUS}",
                            default=TrainArgs(base, pre.preset,
                                              Path(pre.config) if pre.config else None))
            if args.seeds or args.sweep:
                from ddpg.population import parse_seeds, parse_sweep, train_population

                parse_seeds(args.seeds or args.config_values.seed)  # refused before the notes
                parse_sweep(list(args.sweep))
            for note in notes:  # after every check: a refused command prints one line
                print(f"ddpg train: {note}", file=sys.stderr)
            if args.seeds or args.sweep:
                return _population_done(train_population(
                    args.config_values, seeds=args.seeds or str(args.config_values.seed),
                    sweep=list(args.sweep)))
            from ddpg.trainer import train

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


def _docstring(ep: EntryPoint) -> str | None:
    """The docstring of a command's function, read from its module's source without running it
    (ddpg's own tooling imports torch: importing it made `ddpg --help` take over a second); a
    command without Python source, or not a function at the module's top, is loaded."""
    spec = importlib.util.find_spec(ep.module)
    if spec is not None and spec.origin and spec.origin.endswith(".py") and "." not in ep.attr:
        tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == ep.attr:
                return ast.get_docstring(node)
    return ep.load().__doc__


def usage() -> str:
    lines = ["usage: ddpg COMMAND [OPTIONS]", "",
             "Deep Deterministic Policy Gradient (DDPG) for continuous control.", "", "commands:"]
    summaries = dict(SUMMARIES)
    for name, ep in sorted(plugins().items()):
        try:
            doc = (_docstring(ep) or "").strip()
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
    except DDPGError as e:  # 2 bad input, 1 failed while running (errors.EXIT_STATUS)
        print(f"ddpg {argv[0]}: error: {e}", file=sys.stderr)
        return e.exit_code
    except SystemExit as e:  # argument parsing: --help (0) or a usage error (2)
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
    except BrokenPipeError:  # output piped into e.g. `head`, which stopped reading
        sys.stdout = open(os.devnull, "w")
        return 0
    except KeyboardInterrupt as e:  # SIGTERM too, in `ddpg train` (system.interruptible)
        print("ddpg: interrupted.", file=sys.stderr)
        return 128 + (e.args[0] if e.args and isinstance(e.args[0], int) else 2)


if __name__ == "__main__":
    sys.exit(main())
