"""`k8sops login | requests | sla | audit | upgrades | addons | drift | migrations | actions |
authorisations | cost`: what operators do every day, from a terminal.

Every command takes `--profile` (default `default`) and `--json`; exit codes are in `client.Exit`.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from . import cluster_state  # noqa: F401  (adds the read commands to `addons` and `drift`)
from .base import JsonOption, ProfileOption, api, handled
from .client import DEFAULT_URLS, CliError, Exit, Profile, save_profile
from .cluster_actions import actions_app, authorisations_app
from .costs import cost_app
from .day2 import addons_app, drift_app, migrations_app
from .output import duration, emit
from .upgrades import upgrades_app

app = typer.Typer(
    name="k8sops",
    help="Operate K8s Ops: requests, SLAs, credits, audit, upgrades, add-ons, drift, migrations, actions in"
    " clusters and their authorisations, cost."
    " `k8sops run` starts the platform.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
requests_app = typer.Typer(help="Customer requests (intake).", no_args_is_help=True)
sla_app = typer.Typer(help="SLA state, breaches and credits (sla-timer).", no_args_is_help=True)
audit_app = typer.Typer(help="The audit trail: query, export, verify (audit).", no_args_is_help=True)
app.add_typer(requests_app, name="requests")
app.add_typer(sla_app, name="sla")
app.add_typer(audit_app, name="audit")
app.add_typer(upgrades_app, name="upgrades")
app.add_typer(addons_app, name="addons")
app.add_typer(drift_app, name="drift")
app.add_typer(migrations_app, name="migrations")
app.add_typer(actions_app, name="actions")
app.add_typer(authorisations_app, name="authorisations")
app.add_typer(cost_app, name="cost")

PeriodOption = Annotated[str | None, typer.Option(help="only this billing month, YYYY-MM")]
REQUEST_COLUMNS = ("id", "engagement_id", "cluster_id", "priority", "status", "title", "opened_at")


@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []},
)
def run(context: typer.Context) -> None:
    """Start the whole platform on this machine (`k8sops run --help` for its options)."""
    from ..cli import main

    main(["run", *context.args])


@app.command()
@handled
def login(
    token: Annotated[str | None, typer.Option(help="a bearer token (JWT); or use --token-file")] = None,
    token_file: Annotated[typer.FileText | None, typer.Option(help="file holding the token ('-': stdin)")] = None,
    intake_url: Annotated[str, typer.Option(help="intake's URL")] = DEFAULT_URLS["intake"],
    sla_timer_url: Annotated[str, typer.Option(help="sla-timer's URL")] = DEFAULT_URLS["sla-timer"],
    audit_url: Annotated[str, typer.Option(help="audit's URL")] = DEFAULT_URLS["audit"],
    upgrade_runner_url: Annotated[str, typer.Option(help="upgrade-runner's URL")] = DEFAULT_URLS["upgrade-runner"],
    cost_analyzer_url: Annotated[str, typer.Option(help="cost-analyzer's URL")] = DEFAULT_URLS["cost-analyzer"],
    profile: ProfileOption = "default",
    as_json: JsonOption = False,
) -> None:
    """Store a token and the services' URLs as a profile (K8SOPS_CONFIG names the file)."""
    value = (token or (token_file.read() if token_file else "")).strip()
    if not value:
        raise CliError("give the token with --token or --token-file", Exit.USAGE)
    urls = {
        "intake": intake_url,
        "sla-timer": sla_timer_url,
        "audit": audit_url,
        "upgrade-runner": upgrade_runner_url,
        "cost-analyzer": cost_analyzer_url,
    }
    path = save_profile(profile, Profile(token=value, urls=urls))
    emit({"profile": profile, "config": str(path), **urls}, as_json, title="logged in")


@requests_app.command("list")
@handled
def list_requests(
    engagement: Annotated[str | None, typer.Option(help="only this engagement")] = None,
    status: Annotated[str | None, typer.Option(help="only this status, e.g. opened")] = None,
    limit: Annotated[int, typer.Option(min=1, max=200)] = 50,
    profile: ProfileOption = "default",
    as_json: JsonOption = False,
) -> None:
    """Requests the token may see, newest first."""
    page = api(profile, "intake").get("/v1/requests", engagement_id=engagement, status=status, limit=limit)
    emit(page["items"], as_json, REQUEST_COLUMNS, title="requests")


@requests_app.command("show")
@handled
def show_request(request_id: str, profile: ProfileOption = "default", as_json: JsonOption = False) -> None:
    """One request."""
    emit(api(profile, "intake").get(f"/v1/requests/{request_id}"), as_json, title=request_id)


@requests_app.command("ack")
@handled
def acknowledge(request_id: str, profile: ProfileOption = "default", as_json: JsonOption = False) -> None:
    """Acknowledge a request (the first response: stops its SLA clock)."""
    moved = api(profile, "intake").post(f"/v1/requests/{request_id}/transitions", {"action": "acknowledge"})
    emit(moved, as_json, title=f"{request_id} acknowledged")


@requests_app.command("transition")
@handled
def transition(
    request_id: str,
    action: Annotated[str, typer.Argument(help="acknowledge, start, wait_on_customer, resume, resolve, …")],
    reason: Annotated[str | None, typer.Option(help="why (kept with the request)")] = None,
    profile: ProfileOption = "default",
    as_json: JsonOption = False,
) -> None:
    """Move a request along its lifecycle."""
    body = {"action": action, **({"reason": reason} if reason else {})}
    moved = api(profile, "intake").post(f"/v1/requests/{request_id}/transitions", body)
    emit(moved, as_json, title=f"{request_id}: {action}")


@sla_app.command("show")
@handled
def sla_state(request_id: str, profile: ProfileOption = "default", as_json: JsonOption = False) -> None:
    """A request's response SLA: deadline, time remaining (negative: overdue), breached."""
    state = api(profile, "sla-timer").get(f"/v1/sla/requests/{request_id}")
    if as_json:
        emit(state, True)
        return
    summary = {
        "request": state["request_id"],
        "tier / priority": f"{state['tier']} {state['priority']}",
        "goal": f"{state['goal']['budget_minutes']} min ({state['goal']['clock']} clock)",
        "deadline": state["deadline"],
        "remaining": duration(state["remaining_seconds"]),
        "breached": state["breached"],
        "stopped at": state["stopped_at"],
    }
    emit(summary, False, title="SLA")


@sla_app.command("breaches")
@handled
def breaches(
    engagement: str,
    period: PeriodOption = None,
    profile: ProfileOption = "default",
    as_json: JsonOption = False,
) -> None:
    """An engagement's SLA breaches."""
    found = api(profile, "sla-timer").get(f"/v1/sla/engagements/{engagement}/breaches", period=period)
    items = found["items"] if isinstance(found, dict) else found
    columns = ("breach_id", "request_id", "cluster_id", "priority", "deadline", "breached_at")
    emit(found if as_json else items, as_json, columns, title="breaches")


@sla_app.command("credits")
@handled
def credits(
    engagement: str,
    period: PeriodOption = None,
    profile: ProfileOption = "default",
    as_json: JsonOption = False,
) -> None:
    """An engagement's service credits and their total in BDT."""
    page = api(profile, "sla-timer").get(f"/v1/sla/engagements/{engagement}/credits", period=period)
    columns = ("credit_id", "request_id", "cluster_id", "amount_bdt", "period")
    emit(page if as_json else page["items"], as_json, columns, title=f"credits (total {page['total_bdt']} BDT)")


TARGET_COLUMNS = ("tier", "priority", "budget_minutes", "clock", "contractual", "updated_by", "updated_at")


@sla_app.command("policies")
@handled
def policies(profile: ProfileOption = "default", as_json: JsonOption = False) -> None:
    """The response targets and credit rules in force."""
    found = api(profile, "sla-timer").get("/v1/sla/policies")
    if as_json:
        emit(found, True)
        return
    emit(found["response_targets"], False, TARGET_COLUMNS, title="response targets")
    rules = ("tier", "percent_of_retainer", "monthly_cap_percent_of_retainer", "updated_by")
    emit(found["credit_rules"], False, rules, title="credit rules (percent of the monthly retainer)")


@sla_app.command("target")
@handled
def set_target(
    tier: Annotated[str, typer.Argument(help="k8s-business, k8s-247 or k8s-247-cluster-admin")],
    priority: Annotated[str, typer.Argument(help="P1 … P4")],
    minutes: Annotated[int, typer.Option(help="the first-response budget")],
    clock: Annotated[str, typer.Option(help="wall (real time) or business (the engagement's hours)")],
    profile: ProfileOption = "default",
    as_json: JsonOption = False,
) -> None:
    """Change a response target (operators, seniors; audited). Timers armed from now on use it."""
    body = {"budget_minutes": minutes, "clock": clock}
    found = api(profile, "sla-timer").put(f"/v1/sla/policies/response-targets/{tier}/{priority}", body)
    changed = [t for t in found["response_targets"] if (t["tier"], t["priority"]) == (tier, priority)]
    emit(changed[0] if changed else found, as_json, title=f"{tier} {priority} response target")


AUDIT_COLUMNS = ("seq", "recorded_at", "source_service", "actor_sub", "action", "target_kind", "target_name")


@audit_app.command("query")
@handled
def audit_query(
    engagement: Annotated[str | None, typer.Option(help="engagement id")] = None,
    actor: Annotated[str | None, typer.Option()] = None,
    action: Annotated[str | None, typer.Option(help="e.g. request.open")] = None,
    trace_id: Annotated[str | None, typer.Option(help="every entry of one request's trace")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 100,
    profile: ProfileOption = "default",
    as_json: JsonOption = False,
) -> None:
    """Audit entries in sequence order."""
    filters = {"engagement_id": engagement, "actor": actor, "action": action, "trace_id": trace_id}
    page = api(profile, "audit").get("/v1/audit/entries", limit=limit, **filters)
    emit(page if as_json else page["items"], as_json, AUDIT_COLUMNS, title="audit entries")


@audit_app.command("export")
@handled
def audit_export(
    engagement: Annotated[str | None, typer.Option(help="engagement id")] = None,
    action: Annotated[str | None, typer.Option()] = None,
    profile: ProfileOption = "default",
) -> None:
    """Every matching entry as JSON Lines on stdout (for files and pipes)."""
    params = {name: value for name, value in (("engagement_id", engagement), ("action", action)) if value}
    sys.stdout.write(api(profile, "audit").call("GET", "/v1/audit/export", params=params).text)


@audit_app.command("verify")
@handled
def audit_verify(
    first: Annotated[int, typer.Option("--from", min=1, help="first sequence number")] = 1,
    last: Annotated[int | None, typer.Option("--to", min=1, help="last sequence number (default: the head)")] = None,
    profile: ProfileOption = "default",
    as_json: JsonOption = False,
) -> None:
    """Re-walk the hash chain. Exit 0: intact; 1: tampered (names the first bad entry); 7 (or 3, 4): could not check."""
    try:
        report = api(profile, "audit").get("/v1/audit/verify", **{"from": first, "to": last})
    except CliError as error:
        # Refused (e.g. a range starting past a checkpoint it cannot trust): not checked, not "tampered".
        raise CliError(str(error), Exit.COULD_NOT_CHECK if error.code == Exit.REJECTED else error.code) from None
    emit(report, as_json, title="audit chain intact" if report["ok"] else "audit chain TAMPERED")
    if not report["ok"]:
        raise typer.Exit(int(Exit.TAMPERED))
