"""The supervisor's restart policy, with real sockets for the port check."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from k8sops_platform.supervisor import CrashLoop, PortTaken, Supervisor, check_ports_free


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Child:
    """A process stand-in: alive until `crash()`, alive again after the supervisor restarts it."""

    def __init__(self) -> None:
        self.alive = True
        self.restarts = 0

    def is_alive(self) -> bool:
        return self.alive

    def crash(self) -> None:
        self.alive = False

    def restart(self) -> None:
        self.restarts += 1
        self.alive = True


def supervised(*names: str) -> tuple[Supervisor, Clock, dict[str, Child], list[str]]:
    clock, said = Clock(), list[str]()
    supervisor = Supervisor(say=said.append, clock=clock)
    children = {name: Child() for name in names}
    for name, child in children.items():
        supervisor.add(name, Path(f"/logs/{name}.log"), child.is_alive, child.restart)
    return supervisor, clock, children, said


def test_a_crashed_child_is_restarted_after_a_growing_backoff_and_the_others_are_left_alone() -> None:
    supervisor, clock, children, said = supervised("audit", "intake")
    children["audit"].crash()
    supervisor.check()
    assert said == ["audit exited; restarting it in 1s (see /logs/audit.log)"]
    supervisor.check()
    assert children["audit"].restarts == 0  # not before its backoff
    clock.now += 1
    supervisor.check()
    assert children["audit"].restarts == 1 and children["audit"].alive
    children["audit"].crash()
    clock.now += 10
    supervisor.check()
    assert said[-1] == "audit exited; restarting it in 2s (see /logs/audit.log)"
    assert children["intake"].restarts == 0


def crash_repeatedly(supervisor: Supervisor, clock: Clock, child: Child, times: int, every_s: float) -> None:
    for _ in range(times):
        child.crash()
        supervisor.check()
        clock.now += every_s
        supervisor.check()


def test_five_crashes_within_two_minutes_stop_it_naming_the_service_and_its_log() -> None:
    supervisor, clock, children, _ = supervised("sla-timer")
    crash_repeatedly(supervisor, clock, children["sla-timer"], 4, every_s=20)
    children["sla-timer"].crash()
    with pytest.raises(CrashLoop, match=r"sla-timer crashed 5 times within 120s; giving up; see /logs/sla-timer.log"):
        supervisor.check()


def test_crashes_spread_over_more_than_the_window_never_stop_it() -> None:
    supervisor, clock, children, _ = supervised("broker")
    crash_repeatedly(supervisor, clock, children["broker"], 10, every_s=40)
    assert children["broker"].restarts == 10


def test_a_restart_that_fails_counts_as_a_crash() -> None:
    supervisor, clock, children, said = supervised("audit")

    def refuse() -> None:
        raise RuntimeError("port in use")

    supervisor.children[0].restart = refuse
    children["audit"].crash()
    supervisor.check()
    clock.now += 1
    supervisor.check()
    assert said[-2:] == [
        "audit failed to restart: port in use",
        "audit exited; restarting it in 2s (see /logs/audit.log)",
    ]


def test_a_taken_port_is_named_with_the_variable_that_moves_it() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(PortTaken, match=rf"port {port} \(intake\) is taken; set K8SOPS_INTAKE_PORT to move it"):
            check_ports_free([(port, "intake", "K8SOPS_INTAKE_PORT")])
    check_ports_free([(port, "intake", "K8SOPS_INTAKE_PORT")])
