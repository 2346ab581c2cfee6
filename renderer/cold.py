"""A renderer started as a cold interpreter instead of forked by the zygote.

Only for measuring what the zygote saves (``benchmarks/``): the broker starts
``python -m renderer.cold``, writes one length-prefixed ``SpawnRenderer`` to
its stdin, and the process then imports everything and runs exactly the code
a forked renderer runs.
"""

from __future__ import annotations

import os
import sys

from renderer import main as renderer_main
from renderer import protocol


def main() -> None:
    stdin = sys.stdin.buffer

    def read_exactly(n: int) -> bytes:
        data = stdin.read(n)
        if len(data) != n:
            raise SystemExit(protocol.ExitCode.HANDSHAKE_FAILED)
        return data

    request = protocol.to_zygote_decoder.decode(protocol.read_framed(read_exactly))
    renderer_main.preload()
    renderer_main.run_forked(request, zygote_pid=os.getppid())


if __name__ == "__main__":
    main()
