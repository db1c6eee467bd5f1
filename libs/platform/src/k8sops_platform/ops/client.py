"""Profiles, the HTTP calls behind every command, and one exit code per outcome."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import Any

import httpx

DEFAULT_URLS = {
    "intake": "http://127.0.0.1:8001",
    "sla-timer": "http://127.0.0.1:8002",
    "upgrade-runner": "http://127.0.0.1:8003",
    "cost-analyzer": "http://127.0.0.1:8004",
    "audit": "http://127.0.0.1:8005",
}


class Exit(IntEnum):
    """What a script can tell apart from the status alone."""

    OK = 0
    TAMPERED = 1  # audit verify: the chain does not hold
    DRIFTED = 1  # drift show | check: drift found (as `kubectl diff`: 0 none, 1 found, more: an error)
    USAGE = 2  # bad arguments (Typer's own)
    NOT_LOGGED_IN = 3  # no token: run `k8sops login`
    DENIED = 4  # 401/403: the token is invalid, expired or lacks the role
    NOT_FOUND = 5  # 404: no such thing, or not in the token's engagements
    REJECTED = 6  # another 4xx: the service refused the input (its problem detail says why)
    COULD_NOT_CHECK = 7  # the service was unreachable, failed (5xx) or could not do it: nothing was decided
    NOT_COMPLETED = 8  # upgrades watch: it ended without completing (pre-check failed, rolled back, cancelled)
    NOT_FINISHED = 9  # upgrades watch: stopped before the end (it waits for a person, or --timeout passed)


class CliError(Exception):
    def __init__(self, message: str, code: Exit, problem_type: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.problem_type = problem_type  # the last part of a problem+json `type`, for a command to add a hint


@dataclass
class Profile:
    token: str
    urls: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_URLS))


def config_path() -> Path:
    configured = os.environ.get("K8SOPS_CONFIG")
    if configured:
        return Path(configured)
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "k8sops" / "profiles.json"


def save_profile(name: str, profile: Profile) -> Path:
    path = config_path()
    profiles = _read_profiles(path)
    profiles[name] = asdict(profile)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(profiles, indent=2))
    path.chmod(0o600)  # it holds bearer tokens
    return path


def load_profile(name: str) -> Profile:
    token = os.environ.get("K8SOPS_TOKEN")
    stored = _read_profiles(config_path()).get(name)
    if stored is None and not token:
        raise CliError(
            f"no profile {name!r} in {config_path()} and K8SOPS_TOKEN is unset; run `k8sops login --token ...`",
            Exit.NOT_LOGGED_IN,
        )
    profile = Profile(**stored) if stored else Profile(token="")
    if token:
        profile.token = token
    for service in DEFAULT_URLS:
        override = os.environ.get(f"K8SOPS_{service.upper().replace('-', '_')}_URL")
        if override:
            profile.urls[service] = override
    return profile


def _read_profiles(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        profiles = json.loads(path.read_text())
    except ValueError as error:
        raise CliError(f"{path} is not valid JSON ({error}); fix or delete it", Exit.NOT_LOGGED_IN) from error
    if not isinstance(profiles, dict):
        raise CliError(f"{path} should hold an object of profiles", Exit.NOT_LOGGED_IN)
    return profiles


class Api:
    """One service's API with the profile's token; every failure becomes a `CliError`."""

    def __init__(self, profile: Profile, service: str) -> None:
        self.base_url = profile.urls.get(service, DEFAULT_URLS[service]).rstrip("/")
        self.headers = {"Authorization": f"Bearer {profile.token}"}

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = httpx.request(method, self.base_url + path, headers=self.headers, timeout=30, **kwargs)
        except httpx.HTTPError as error:
            raise CliError(f"cannot reach {self.base_url}: {error}", Exit.COULD_NOT_CHECK) from error
        if response.is_success:
            return response
        raise CliError(
            f"{method} {path}: {response.status_code} {_problem(response)}",
            _exit_for(response.status_code),
            _problem_type(response),
        )

    def get(self, path: str, **params: Any) -> Any:
        return self.call("GET", path, params={k: v for k, v in params.items() if v is not None}).json()

    def text(self, path: str, **params: Any) -> str:
        return self.call("GET", path, params={k: v for k, v in params.items() if v is not None}).text

    def post(self, path: str, body: dict[str, Any]) -> Any:
        return self.call("POST", path, json=body).json()

    def put(self, path: str, body: dict[str, Any]) -> Any:
        return self.call("PUT", path, json=body).json()


def _exit_for(status: int) -> Exit:
    if status in (401, 403):
        return Exit.DENIED
    if status == 404:
        return Exit.NOT_FOUND
    return Exit.REJECTED if status < 500 else Exit.COULD_NOT_CHECK


def _problem_type(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    kind = body.get("type") if isinstance(body, dict) else None
    return kind.rsplit("/", 1)[-1] if isinstance(kind, str) else None


def _problem(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:500]
    if not isinstance(body, dict):
        return str(body)
    detail = str(body.get("detail") or body.get("title") or body)
    fields = body.get("errors")
    if isinstance(fields, list) and fields:  # a 422 names each field and what is wrong with it
        named = (f"{item.get('field')}: {item.get('message')}" for item in fields if isinstance(item, dict))
        detail += " " + "; ".join(named)
    return detail
