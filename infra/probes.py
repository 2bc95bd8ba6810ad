"""Health probes that ask the server itself, not just whether a port is open."""

from __future__ import annotations

import socket
import struct

import httpx


def split_host_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host, int(port)


def port_open(address: str, timeout_s: float = 1.0) -> bool:
    try:
        with socket.create_connection(split_host_port(address), timeout=timeout_s):
            return True
    except OSError:
        return False


def http_ok(url: str, timeout_s: float = 2.0) -> bool:
    try:
        return httpx.get(url, timeout=timeout_s).status_code == 200
    except httpx.HTTPError:
        return False


def kafka_ready(address: str, timeout_s: float = 2.0) -> bool:
    """A Kafka ApiVersions (v0) request answered with error code 0: the broker serves requests."""
    client_id = b"catalens-infra"
    correlation_id = 7
    body = struct.pack(">hhih", 18, 0, correlation_id, len(client_id)) + client_id
    try:
        with socket.create_connection(split_host_port(address), timeout=timeout_s) as sock:
            sock.sendall(struct.pack(">i", len(body)) + body)
            header = _recv_exact(sock, 10)  # size, correlation id, error code
    except OSError:
        return False
    _, got_id, error_code = struct.unpack(">iih", header)
    return got_id == correlation_id and error_code == 0


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data
