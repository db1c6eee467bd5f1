"""Ports chosen for servers lie below the ephemeral range, where no outgoing connection can take
them between the choice and the server's bind (a hog run lost `k8sops run`'s sandbox that way)."""

from __future__ import annotations

import socket

from k8sops_platform.embedded import ephemeral_port_range, free_port


def test_a_free_port_is_below_the_ephemeral_range_and_can_be_bound() -> None:
    low, high = ephemeral_port_range()
    assert 1024 <= low <= high
    ports = {free_port() for _ in range(20)}
    assert all(1024 <= port < low for port in ports), sorted(ports)
    for port in ports:
        with socket.socket() as server:
            server.bind(("127.0.0.1", port))
