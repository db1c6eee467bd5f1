"""`python -m k8sops_audit verify [--from N] [--to N] [--checkpoints FILE]`: re-walk the chain from
the command line, holding it to checkpoints a third party kept.

Exit 0: intact; 1: tampered (the report names the first bad entry, or a witnessed checkpoint the
chain no longer holds); 2: bad arguments; 7: could not check (database unreachable, schema missing,
an untrusted range), with one line on stderr saying why.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from k8sops_common.db import Database, engine_from_settings
from k8sops_common.settings import ServiceSettings

from .domain.checkpoint import UntrustedCheckpointError
from .endpoints import verification_out
from .service import UntrustedStart, verify
from .witness import WitnessFileError, parse_checkpoints

# Exit codes a script can tell apart: 0 intact, 1 tampered, 2 bad arguments (argparse), 7 not checked.
TAMPERED = 1
COULD_NOT_CHECK = 7


def redacted(database_url: str) -> str:
    try:
        return make_url(database_url).render_as_string(hide_password=True)
    except Exception:  # not even a URL: say so rather than echo what may be a secret
        return "<not a database URL>"


def verify_command(settings: ServiceSettings, argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="k8sops_audit verify", description="Re-walk the audit hash chain.")
    parser.add_argument("--from", dest="first", type=int, default=1, help="first sequence number (default 1)")
    parser.add_argument("--to", dest="last", type=int, default=None, help="last sequence number (default: the head)")
    parser.add_argument(
        "--checkpoints",
        type=Path,
        default=None,
        help="checkpoints kept outside the database (JSON Lines of audit.checkpoint events or the service's "
        "checkpoint file, or the JSON array of GET /v1/audit/checkpoints); the chain must still hold each",
    )
    args = parser.parse_args(argv)
    try:
        witnessed = parse_checkpoints(args.checkpoints.read_text(), str(args.checkpoints)) if args.checkpoints else []
    except (OSError, WitnessFileError) as error:
        parser.error(str(error))

    async def run() -> int:
        database = Database(engine_from_settings(settings))
        try:
            async with database.sessions() as session:
                report = await verify(session, args.first, args.last, witnessed)
        finally:
            await database.dispose()
        print(verification_out(report.result, args.first, report.checkpoints_checked).model_dump_json(indent=2))
        return TAMPERED if not report.result.ok else 0

    try:
        return asyncio.run(run())
    except (UntrustedStart, UntrustedCheckpointError) as error:
        print(f"could not check the audit chain: {error}", file=sys.stderr)
    except (OSError, SQLAlchemyError) as error:
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        print(
            f"could not check the audit chain: {reason}. It is read like the service reads it: DATABASE_URL "
            f"(now {redacted(settings.database_url)}) and K8SOPS_DB_SCHEMA (now {settings.schema_name}).",
            file=sys.stderr,
        )
    return COULD_NOT_CHECK
