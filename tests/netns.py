"""A second host for the multi-host test: a network namespace joined to this one by a veth
pair, so that processes in it reach this host only through the veth addresses (as over a
LAN) while sharing its filesystem (as an NFS mount of the data directory would)."""
from __future__ import annotations

import random
import subprocess
from collections.abc import Sequence
from typing import Any


class NamespaceUnavailable(RuntimeError):
    """Network namespaces or veth pairs cannot be made here (no root, no CAP_NET_ADMIN, no `ip`)."""


def _ip(*args: str) -> None:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        raise NamespaceUnavailable(f"ip {' '.join(args)}: {done.stderr.strip() or done.returncode}")


class SecondHost:
    """Namespace `name`; this host is `host_address`, the second host `address` (a /30)."""

    def __init__(self, name: str, subnet: int) -> None:
        self.name = name
        self.host_address = f"10.213.{subnet}.1"
        self.address = f"10.213.{subnet}.2"
        self._host_link = f"ybbh{subnet}"

    @classmethod
    def create(cls) -> SecondHost:
        subnet = random.randrange(1, 250)
        host = cls(f"ybb-second-{subnet}", subnet)
        try:
            _ip("netns", "add", host.name)
        except (NamespaceUnavailable, FileNotFoundError, OSError) as exc:
            raise NamespaceUnavailable(str(exc)) from None
        try:
            _ip("link", "add", host._host_link, "type", "veth", "peer", "name", "ybbpeer", "netns", host.name)
            _ip("addr", "add", f"{host.host_address}/30", "dev", host._host_link)
            _ip("link", "set", host._host_link, "up")
            host.run_ip("addr", "add", f"{host.address}/30", "dev", "ybbpeer")
            host.run_ip("link", "set", "ybbpeer", "up")
            host.run_ip("link", "set", "lo", "up")
        except BaseException:
            host.remove()
            raise
        return host

    def run_ip(self, *args: str) -> None:
        _ip("netns", "exec", self.name, "ip", *args)

    def popen(self, args: Sequence[str], **kwargs: Any) -> subprocess.Popen[bytes]:
        """A process on the second host."""
        return subprocess.Popen(["ip", "netns", "exec", self.name, *args], **kwargs)

    def reaches(self, address: str, port: int) -> bool:
        """Whether a TCP connection from the second host to address:port succeeds."""
        probe = ["python3", "-c", "import socket,sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), 3)",
                 address, str(port)]
        return subprocess.run(["ip", "netns", "exec", self.name, *probe], capture_output=True,
                              timeout=30).returncode == 0

    def remove(self) -> None:
        subprocess.run(["ip", "link", "del", self._host_link], capture_output=True, timeout=30)
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True, timeout=30)
