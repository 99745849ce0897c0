"""Ray for this process (`--actors`, `ddpg sweep`): a local Ray with the cores available, or the
cluster at `--address`, reached within seconds or refused with one line naming the address.

Ray itself waits for a cluster that does not answer for minutes (20 tries of 30 s each), and
before it connects it rewrites a loopback address (127.0.0.1, localhost) to this node's network
address, so its messages name an address the user never gave. So the address as given is tried
first with a plain TCP connect of CONNECT_TIMEOUT_S (nothing is sent), before Ray is imported
and before a run or sweep folder exists: a port nothing listens on, or a host that does not
answer, is a ConfigError (exit 2) in seconds. Only then `ray.init` joins it.

While Ray starts or joins, its informational lines ("Started a local Ray instance",
"Connecting to existing Ray cluster at address: <this node's address>") and its warning that
a new local Ray has token authentication on are left out: ddpg's own line says where the work
runs (`where`). A local Ray that ddpg starts is Ray's default one (token authentication on, the
token in ~/.ray/auth_token, made by Ray on first use); nothing but this process joins it, and
it stops with the run.
"""

from __future__ import annotations

import logging
import os
import socket
from typing import Any

from ddpg.errors import ConfigError

CONNECT_TIMEOUT_S = 5.0
_RAY_LOGGERS = ("ray._private.worker", "ray._private.authentication.authentication_token_setup")
_owned = False  # this process's Ray was started (or joined) by join_ray: leave_ray stops it


def _import_ray() -> Any:
    try:
        import ray
    except ImportError as e:
        raise ConfigError("actors > 0 (distributed collection) needs Ray: pip install -e "
                          "'.[ray]'; or train in one process with --actors 0.") from e
    return ray


def parse_address(address: str) -> tuple[str, int]:
    """HOST:PORT (also [IPv6]:PORT, or with a ray:// scheme) as (host, port)."""
    rest = address.split("://", 1)[-1].rstrip("/")
    host, sep, port = rest.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"--address {address!r} is not a Ray address; give HOST:PORT (the "
                          f"address `ray start --head` printed, e.g. 10.0.0.5:6379), 'auto' "
                          f"for the cluster this node is part of, or leave it out for a local "
                          f"Ray.")
    return host, int(port)


def check_reachable(address: str, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """A TCP connect to the address as given (for 'auto': to RAY_ADDRESS when it is set; else
    Ray finds the cluster this node started); ConfigError when nothing answers there."""
    given = address
    if address == "auto":
        address = os.environ.get("RAY_ADDRESS", "")
        if not address:
            return
        given = f"auto (RAY_ADDRESS={address})"
    host, port = parse_address(address)
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as e:
        why = f"no answer within {timeout:g} s" if isinstance(e, TimeoutError) else \
            (e.strerror or str(e)).lower()
        raise ConfigError(
            f"cannot reach a Ray cluster at {given} ({why}). Start one "
            f"there (`ray start --head --port {port}` on that machine), check the host and "
            f"port `ray start` printed, or leave --address out for a local Ray.") from None


def join_ray(address: str, num_cpus: int | None = None) -> None:
    """Ray for this process: nothing to do if it is running; else the cluster at `address`
    (checked first, see the module's docstring), or a local Ray with `num_cpus` (default: the
    cores available), dashboard off, the workers' output not forwarded."""
    global _owned
    if address:
        check_reachable(address)
    ray = _import_ray()
    if ray.is_initialized():
        return
    quiet = _Quiet()
    for name in _RAY_LOGGERS:
        logging.getLogger(name).addFilter(quiet)
    try:
        if address:
            ray.init(address=address, include_dashboard=False, log_to_driver=False)
        else:
            from ddpg.system import available_cores

            ray.init(address="local", num_cpus=num_cpus or available_cores(),  # not RAY_ADDRESS
                     include_dashboard=False, log_to_driver=False)
    except (ConnectionError, RuntimeError, ray.exceptions.RayError) as e:
        if not address:
            raise
        cause = (str(e).strip().splitlines() or [type(e).__name__])[-1]
        raise ConfigError(f"cannot join the Ray cluster at {address}: {cause}. Check that it "
                          f"runs this Ray version ({ray.__version__}) and that `ray status "
                          f"--address {address}` works from here.") from None
    finally:
        for name in _RAY_LOGGERS:
            logging.getLogger(name).removeFilter(quiet)
    _owned = True


class _Quiet(logging.Filter):
    """Ray's informational lines and its token-authentication-enabled warning, dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.INFO and \
            "Token authentication is enabled" not in record.getMessage()


def leave_ray() -> None:
    """Stop (or disconnect from) the Ray that join_ray started; one started elsewhere stays."""
    global _owned
    if _owned:
        import ray

        ray.shutdown()
        _owned = False


def where(address: str) -> str:
    """Where the collectors or trials run, in words: a local Ray or the cluster at `address`,
    with its nodes and CPUs."""
    import ray

    cpus = int(ray.cluster_resources().get("CPU", 0))
    nodes = sum(1 for n in ray.nodes() if n.get("Alive"))
    size = f"{nodes} node{'s' * (nodes != 1)}, {cpus} CPUs"
    if address:
        return f"the Ray cluster at {address} ({size})"
    return f"a local Ray ({size})" if _owned else f"the Ray this process runs ({size})"
