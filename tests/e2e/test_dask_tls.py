"""The Dask scheduler and workers accept only our own processes (issue 13, item 18).

The stack's scheduler, workers and the API's client speak mutual TLS with the certificate
devstack makes under var/tls/dask/: a plain tcp:// client, a TLS client without a
certificate and one whose certificate another CA signed are all refused, quickly, by the
scheduler and by the workers; with the stack's certificate everything works.
"""
from __future__ import annotations

import socket
import ssl
import time
from pathlib import Path

import pytest
from distributed import Client
from distributed.security import Security

from devstack import make_dask_tls

pytestmark = pytest.mark.e2e

REFUSED_WITHIN = 10  # seconds; the connect timeout below is 3


def _refused(address: str, security: Security | None = None) -> str:
    """Connect a Client; the error it meets (AssertionError if it connected)."""
    started = time.monotonic()
    try:
        client = Client(address, security=security, timeout=3, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        assert time.monotonic() - started < REFUSED_WITHIN
        return f"{type(exc).__name__}: {exc}"
    client.close()
    raise AssertionError(f"{address} accepted a client it should have refused")


def _host_port(address: str) -> tuple[str, int]:
    host, _, port = address.split("://")[-1].rpartition(":")
    return host, int(port)


@pytest.fixture(scope="module")
def worker_address(stack) -> str:
    with Client(stack.config.scheduler_address, security=stack.dask_security(), timeout=20,
                set_as_default=False) as client:
        workers = client.scheduler_info(n_workers=-1)["workers"]
    assert workers and all(address.startswith("tls://") for address in workers), workers
    return sorted(workers)[0]


@pytest.fixture(scope="module")
def foreign_tls(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA and certificate made the same way as the stack's, but not the stack's."""
    directory = tmp_path_factory.mktemp("foreign-dask-tls")
    make_dask_tls(directory)
    return directory


def test_our_certificate_connects_and_runs_work(stack) -> None:
    with Client(stack.config.scheduler_address, security=stack.dask_security(), timeout=20,
                set_as_default=False) as client:
        assert client.submit(sum, [1, 2, 3], pure=False).result(timeout=30) == 6
        assert client.scheduler_info()["address"].startswith("tls://")


def test_plain_tcp_is_refused_by_scheduler_and_workers(stack, worker_address) -> None:
    host, port = _host_port(stack.config.scheduler_address)
    _refused(f"tcp://{host}:{port}")
    host, port = _host_port(worker_address)
    _refused(f"tcp://{host}:{port}")


def test_a_certificate_of_another_ca_is_refused(stack, worker_address, foreign_tls) -> None:
    """The client trusts our CA (so it accepts the scheduler) but presents a certificate our
    CA did not sign: the scheduler, and a worker, end the handshake."""
    stranger = Security(tls_ca_file=str(stack.config.dask_ca), tls_client_cert=str(foreign_tls / "cert.pem"),
                        tls_client_key=str(foreign_tls / "key.pem"), require_encryption=True)
    _refused(stack.config.scheduler_address, stranger)
    _refused(worker_address, stranger)
    # And a client of another cluster does not take our scheduler for its own.
    other = Security(tls_ca_file=str(foreign_tls / "ca.pem"), tls_client_cert=str(foreign_tls / "cert.pem"),
                     tls_client_key=str(foreign_tls / "key.pem"), require_encryption=True)
    _refused(stack.config.scheduler_address, other)


def test_tls_without_a_client_certificate_gets_no_answer(stack) -> None:
    """A raw TLS connection that trusts our CA but brings no certificate: the scheduler
    sends an alert, never a byte of Dask's protocol."""
    context = ssl.create_default_context(cafile=str(stack.config.dask_ca))
    context.check_hostname = False
    host, port = _host_port(stack.config.scheduler_address)
    with socket.create_connection((host, port), timeout=5) as raw:
        with pytest.raises((ssl.SSLError, ConnectionError)):
            with context.wrap_socket(raw, server_hostname=host) as tls:
                tls.sendall(b"\0" * 16)
                data = tls.recv(1)  # TLS 1.3: the refusal arrives after the handshake
                if data == b"":
                    raise ConnectionError("closed")


def test_the_api_reaches_the_scheduler_over_tls(stack, api) -> None:
    """The scheduler refuses anything else (above), so a ready API talks TLS with our certificate."""
    ready = api.get(f"{stack.config.base_url}/health/ready").json()
    assert ready["status"] == "ready" and ready["checks"]["cluster"]["workers"] >= 1
    assert stack.config.dask_key.stat().st_mode & 0o077 == 0
