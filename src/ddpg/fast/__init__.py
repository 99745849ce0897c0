"""The accelerated update: the reference update (ddpg.update, ddpg.td3) with its backward passes
written out (steps, on the column-per-sample networks of mlp), Adam as one fused kernel (adam),
the whole step replayed as a CUDA graph on a GPU (cudagraph), and the one function the agent
calls to pick which runs for a config (select)."""

from ddpg.fast.adam import FusedAdam
from ddpg.fast.select import UpdateChoice, select_update

__all__ = ["FusedAdam", "UpdateChoice", "select_update"]
