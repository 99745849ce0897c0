"""The version of ddpg: one place, read by the package, its metadata (pyproject.toml) and the
files it writes."""

__version__ = "0.1.0"
