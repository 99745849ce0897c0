"""Tooling beside the algorithm: benchmark suites and their runs (suite, jobs, runner, benchmark),
reports and statistics (report, stats, rundata), plots, speed measurement (speed, workloads) and
the stable-baselines3 baseline (baselines, overrides). Nothing in the core imports it; its
commands (plot, benchmark, speed) reach `ddpg` through the entry-point group ddpg.commands."""
