"""The `drift-reconcile` kind: measure the drift against the recorded baseline, put changed and
missing objects back (server-side apply), delete extra objects only under the customer's
authorisation, and verify that what was reconciled no longer drifts."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from k8sops_common.events.catalog import DriftMeasuredV1

from .. import repository, service
from ..domain.addons import FIELD_MANAGER
from ..domain.drift import desired_object
from ..domain.operation import State, Trigger
from ..domain.paths import object_path
from .baseline import DriftTrigger, Measurement, current_drift, desired_state
from .cluster import ClusterClient
from .engine import RETRY_UNKNOWN_CLUSTER, Driver


class DriftDriver(Driver):
    def handlers(self) -> dict[State, Callable[[RowMapping], Awaitable[bool]]]:
        return {
            State.PLANNED: self.planned,
            State.PRECHECKING: self.prechecking,
            State.SCHEDULED: self.scheduled,
            State.APPLYING: self.applying,
            State.POSTCHECKING: self.postchecking,
            State.ROLLING_BACK: self.rolling_back,
        }

    async def target(self, operation: RowMapping) -> ClusterClient | None:
        cluster = await self.cluster(operation["cluster_id"])
        return await self.client(cluster) if cluster is not None else None

    async def prechecking(self, operation: RowMapping) -> bool:
        client = await self.target(operation)
        if client is None:
            await self.defer(self.now() + RETRY_UNKNOWN_CLUSTER)
            return False
        measured = await current_drift(self.context, client, operation["cluster_id"])
        spec = dict(operation["spec"] or {})
        if measured is None:
            message = "no desired state: record the cluster's baseline first (POST /v1/clusters/{id}/baseline)"
            blocking = {"code": "no-baseline", "severity": "blocking", "subject": "cluster", "message": message}
            await self.move(Trigger.PRECHECK_BLOCKED, message, findings=[{**blocking, "evidence": "", "signal": None}])
            return False
        findings = measured.findings
        spec["drift"] = [finding.as_dict() for finding in findings]
        as_findings = [
            {
                "code": f"drift-{finding.drift}",
                "severity": "info",
                "subject": finding.object,
                "message": f"{finding.object} {finding.drift}"
                + (": " + ", ".join(change.path for change in finding.changes) if finding.changes else ""),
                "evidence": "baseline vs live",
                "signal": None,
            }
            for finding in findings
        ]
        event = await self.measured_event(operation, measured, "reconcile-precheck")
        await self.move_and_publish(
            event, Trigger.PRECHECK_PASSED, f"{len(findings)} drifted object(s)", findings=as_findings, spec=spec
        )
        return True

    async def applying(self, operation: RowMapping) -> bool:
        client = await self.target(operation)
        assert client is not None
        spec = dict(operation["spec"])
        baseline = {
            row["object_key"]: row["object"] for row in await desired_state(self.context, operation["cluster_id"])
        }
        actions = []
        for finding in spec["drift"]:
            key = finding["object"]
            if finding["drift"] in ("changed", "missing"):
                await client.apply(desired_object(baseline[key]), FIELD_MANAGER)
                actions.append(f"{key}: restored ({finding['drift']})")
            elif spec.get("delete_extra"):
                kind, _, name = key.partition(" ")
                namespace, _, short = name.rpartition("/")
                obj = desired_object({"kind": kind, "metadata": {"name": short, "namespace": namespace or None}})
                await client.delete_if_present(object_path(obj))
                actions.append(f"{key}: deleted (authorisation {spec['authorisation_id']})")
            else:
                actions.append(f"{key}: extra, left in place (deleting needs the customer's authorisation)")
        spec["actions"] = actions
        await self.move(Trigger.APPLIED, "; ".join(actions) or "nothing drifted", spec=spec)
        return True

    async def postchecking(self, operation: RowMapping) -> bool:
        client = await self.target(operation)
        assert client is not None
        spec = dict(operation["spec"])
        handled = {f["object"] for f in spec["drift"] if f["drift"] != "extra" or spec.get("delete_extra")}
        measured = await current_drift(self.context, client, operation["cluster_id"])
        assert measured is not None  # the pre-check found the desired state, and it is never removed
        event = await self.measured_event(operation, measured, "reconcile-postcheck")
        left = [f for f in measured.findings if f.object in handled]
        if left:
            problems = [f"{f.object} still {f.drift}" for f in left]
            await self.move_and_publish(
                event, Trigger.FAILED, "; ".join(problems), postcheck={"problems": problems}, failure=problems[0]
            )
            return True
        await self.move_and_publish(
            event,
            Trigger.POSTCHECK_PASSED,
            "every reconciled object matches its desired state",
            postcheck={"problems": []},
        )
        return False

    async def measured_event(
        self, operation: RowMapping, measured: Measurement, trigger: DriftTrigger
    ) -> DriftMeasuredV1:
        cluster = await self.cluster(operation["cluster_id"])
        assert cluster is not None
        return measured.event(cluster, trigger, self.now(), self.operation_id)

    async def move_and_publish(self, event: DriftMeasuredV1, trigger: Trigger, detail: str, **changes: Any) -> None:
        """The step and the `drift.measured` event commit together (the review sees what the step saw)."""

        async def apply(session: AsyncSession) -> None:
            operation = await repository.get_operation(session, self.operation_id, for_update=True)
            assert operation is not None
            await service.transition(session, self.context.outbox, operation, trigger, detail=detail, changes=changes)
            await self.context.outbox.add(session, event)

        await self.save(apply)

    async def rolling_back(self, operation: RowMapping) -> bool:
        # Re-applying the desired state is idempotent: there is nothing earlier to restore.
        action = "nothing to undo: the reconcile only applied the desired state again"
        await self.move(Trigger.ROLLBACK_DONE, action, rollback={"actions": [action]})
        return False
