"""The interruption error (ddpg.errors.Interrupted) says how to go on."""

from __future__ import annotations

import signal

from ddpg.errors import Interrupted


def test_interrupted_says_how_to_resume(tmp_path):
    e = Interrupted(signal.SIGINT, tmp_path, 1200)
    assert e.exit_code == 130 and "ddpg train --resume" in str(e) and "1200" in str(e)
