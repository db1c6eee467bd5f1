"""Keeping an add-on's Helm release record true after an add-on operation (see `domain/helm.py`):
pending while the rollout runs, deployed (earlier revisions superseded) once it passed, a
"Rollback to N" revision after a rollback, and no record at all after a fresh install is removed.

An add-on running without any Helm record was not installed with Helm: it gets none (the runner
does not claim a release it never had); a fresh install by the runner gets revision 1."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ..domain.addons import Addon, AddonVersion
from ..domain.helm import PENDING, decode, new_revision, release_of_chart, render_manifest, secret_of, with_status
from .cluster import ClusterClient

Obj = dict[str, Any]


def _now() -> str:
    return datetime.now(UTC).isoformat()


async def history(client: ClusterClient, namespace: str, name: str | None = None) -> list[Obj]:
    """Every revision of every Helm release in `namespace` (of release `name` when given)."""
    listed = await client.find(f"/api/v1/namespaces/{namespace}/secrets")
    releases = [r for r in (decode(s) for s in (listed or {}).get("items") or []) if r is not None]
    return [r for r in releases if name is None or r["name"] == name]


async def write(client: ClusterClient, release: Obj) -> None:
    await client.apply(secret_of(release), "helm")


async def record_pending(
    client: ClusterClient, addon: Addon, version: AddonVersion, namespace: str, applied: Obj, fresh: bool
) -> dict[str, Any] | None:
    """Before the rollout: the next revision, `pending-install` or `pending-upgrade`. None when
    the installed add-on has no Helm record. Idempotent for a resumed runner (a pending revision
    of the same chart version is reused)."""
    releases = await history(client, namespace)
    name = release_of_chart(releases, addon.chart) or (addon.name if fresh else None)
    if name is None:
        return None
    revisions = [r for r in releases if r["name"] == name]
    latest = max(revisions, key=lambda r: int(r["version"])) if revisions else None
    chart = {"name": addon.chart, "version": version.chart_version, "appVersion": version.version}
    if (
        latest is not None
        and latest["info"]["status"] in PENDING
        and latest["chart"]["metadata"]
        == {
            **chart,
            "apiVersion": "v2",
        }
    ):
        return {"release": name, "revision": int(latest["version"])}
    release = new_revision(
        revisions,
        name=name,
        namespace=namespace,
        chart=chart,
        manifest=render_manifest([applied], addon.chart),
        status="pending-install" if not revisions else "pending-upgrade",
        description="Install in progress" if not revisions else "Upgrade in progress",
        now=_now(),
    )
    await write(client, release)
    return {"release": name, "revision": int(release["version"])}


async def record_deployed(client: ClusterClient, namespace: str, record: dict[str, Any]) -> None:
    """The rollout passed: the revision is `deployed`, every earlier deployed one `superseded`."""
    now = _now()
    for release in await history(client, namespace, record["release"]):
        if int(release["version"]) == record["revision"]:
            if release["info"]["status"] != "deployed":
                done = "Install complete" if release["version"] == 1 else "Upgrade complete"
                await write(client, with_status(release, "deployed", now, done))
        elif release["info"]["status"] == "deployed":
            await write(client, with_status(release, "superseded", now))


async def record_rollback(client: ClusterClient, namespace: str, record: dict[str, Any], fresh: bool) -> str:
    """After a rollback: a fresh install is uninstalled (its records deleted, as `helm uninstall`);
    otherwise a new revision re-deploys the last deployed one and every other is `superseded`."""
    revisions = await history(client, namespace, record["release"])
    if fresh:
        for release in revisions:
            await client.delete_if_present(
                f"/api/v1/namespaces/{namespace}/secrets/{secret_of(release)['metadata']['name']}"
            )
        return f"Helm release {record['release']} uninstalled (its records deleted)"
    if max(int(r["version"]) for r in revisions) > record["revision"]:
        return f"Helm release {record['release']} already rolled back"  # a resumed runner repeats this step
    now = _now()
    earlier = [r for r in revisions if int(r["version"]) < record["revision"] and r["info"]["status"] != "failed"]
    if not earlier:
        ours = next(r for r in revisions if int(r["version"]) == record["revision"])
        await write(client, with_status(ours, "failed", now, "Upgrade failed; no earlier revision to roll back to"))
        return f"Helm release {record['release']} revision {record['revision']} marked failed"
    back_to = max(earlier, key=lambda r: int(r["version"]))
    release = new_revision(
        revisions,
        name=record["release"],
        namespace=namespace,
        chart=back_to["chart"]["metadata"],
        manifest=back_to["manifest"],
        status="deployed",
        description=f"Rollback to {back_to['version']}",
        now=now,
    )
    for revision in revisions:
        if revision["info"]["status"] != "superseded":
            await write(client, with_status(revision, "superseded", now))
    await write(client, release)
    return f"Helm release {record['release']} revision {release['version']}: rollback to {back_to['version']}"
