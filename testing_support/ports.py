"""Free TCP ports on loopback."""
from __future__ import annotations

import random
import socket

__all__ = ["free_port", "SERVICE_PORTS"]

#: Ports for servers that are stopped and started again on the same port (PostgreSQL in
#: the fault tests): below the ephemeral range (32768-60999), so that no client socket
#: of the machine can take the port between a stop and a restart.
SERVICE_PORTS = range(20000, 32000)


def free_port(ports: range | None = None) -> int:
    """A port on 127.0.0.1 that nothing listens on right now.

    Without ``ports`` the kernel picks one from the ephemeral range; with ``ports``
    (e.g. :data:`SERVICE_PORTS`) one is drawn at random from it and tried.
    """
    if ports is None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return sock.getsockname()[1]
    for port in random.sample(ports, min(200, len(ports))):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {ports.start}-{ports.stop - 1} on 127.0.0.1")
