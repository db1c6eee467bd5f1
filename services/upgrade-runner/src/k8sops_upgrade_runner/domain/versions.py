"""Kubernetes version rules: one minor at a time, and kubelets within the supported skew."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_VERSION = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?")


@dataclass(frozen=True, order=True)
class Version:
    major: int
    minor: int
    patch: int = 0

    @classmethod
    def parse(cls, text: str) -> Version:
        match = _VERSION.match(text.strip())
        if match is None:
            raise ValueError(f"{text!r} is not a Kubernetes version like 1.30 or v1.30.2")
        major, minor, patch = match.groups()
        return cls(int(major), int(minor), int(patch or 0))

    @property
    def minor_text(self) -> str:
        return f"{self.major}.{self.minor}"

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"


def next_minor(current: Version) -> Version:
    return Version(current.major, current.minor + 1, 0)


def check_target(current: Version, target: Version) -> None:
    """SPEC 6: target = current minor + 1, nothing else."""
    expected = next_minor(current)
    if (target.major, target.minor) != (expected.major, expected.minor):
        raise ValueError(
            f"the control plane runs {current.minor_text}; the only allowed target is {expected.minor_text}, "
            f"not {target.minor_text} (one minor version at a time)"
        )


def version_skip_finding(current: Version, error: ValueError) -> dict[str, Any]:
    """The blocking pre-check finding for a plan that names another target than the next minor."""
    return {
        "code": "version-skip",
        "severity": "blocking",
        "subject": "control plane",
        "message": str(error),
        "evidence": f"platform API: control plane {current}",
        "signal": None,
    }


def kubelet_skew(control_plane: Version) -> int:
    """Minors a kubelet may lag the API server: 3 from 1.28 on, 2 before (Kubernetes skew policy)."""
    return 3 if (control_plane.major, control_plane.minor) >= (1, 28) else 2


def kubelet_skew_problem(kubelet: Version, target: Version) -> str | None:
    """Why a kubelet would be out of the supported skew under a `target` control plane, if it would."""
    if (kubelet.major, kubelet.minor) > (target.major, target.minor):
        return f"kubelet {kubelet} is newer than the target control plane {target.minor_text}"
    lag = target.minor - kubelet.minor if kubelet.major == target.major else 99
    allowed = kubelet_skew(target)
    if lag > allowed:
        return (
            f"kubelet {kubelet} would be {lag} minors behind a {target.minor_text} control plane "
            f"(at most {allowed} allowed); upgrade its node pool first"
        )
    return None
