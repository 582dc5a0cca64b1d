"""Two network namespaces joined by a veth pair, for the scripts that measure Linux on this
machine (needs root): documentation addresses 192.0.2.1/.2, no route out; `teardown` deletes
both namespaces (and the pair with them)."""

from __future__ import annotations

import ctypes
import os
import subprocess

CLONE_NEWNET = 0x40000000


def sh(*cmd: str, check: bool = True) -> None:
    subprocess.run(cmd, check=check, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def setup(ns_a: str, ns_b: str, dev_a: str, dev_b: str) -> None:
    """ns_a's dev_a (192.0.2.1/24) <-> ns_b's dev_b (192.0.2.2/24), both up with their lo."""
    teardown(ns_a, ns_b)
    sh("ip", "netns", "add", ns_a)
    sh("ip", "netns", "add", ns_b)
    sh("ip", "link", "add", dev_a, "netns", ns_a, "type", "veth", "peer", "name", dev_b, "netns", ns_b)
    for ns, dev, addr in ((ns_a, dev_a, "192.0.2.1/24"), (ns_b, dev_b, "192.0.2.2/24")):
        sh("ip", "-n", ns, "addr", "add", addr, "dev", dev)
        sh("ip", "-n", ns, "link", "set", dev, "up")
        sh("ip", "-n", ns, "link", "set", "lo", "up")


def teardown(ns_a: str, ns_b: str) -> None:
    sh("ip", "netns", "del", ns_a, check=False)
    sh("ip", "netns", "del", ns_b, check=False)


def setns(name: str) -> None:
    """Move this process into a network namespace (os.setns needs Python 3.12: use libc)."""
    fd = os.open(f"/run/netns/{name}", os.O_RDONLY)
    if ctypes.CDLL(None, use_errno=True).setns(fd, CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), f"setns {name}")
    os.close(fd)
