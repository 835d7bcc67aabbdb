"""Helper processes that do not outlive the process that started them."""

from __future__ import annotations

import signal
import sys


def die_with_parent(signum: int = signal.SIGTERM) -> None:
    """Have Linux send this process ``signum`` when its parent dies, even by SIGKILL (prctl
    PR_SET_PDEATHSIG); elsewhere nothing is done."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, int(signum))  # 1 = PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
