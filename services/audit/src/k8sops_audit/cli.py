"""`python -m k8sops_audit verify [--from N] [--to N] [--checkpoints FILE]`: re-walk the chain from
the command line, holding it to checkpoints a third party kept (exit 1 on any mismatch)."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from k8sops_common.db import Database, engine_from_settings
from k8sops_common.settings import ServiceSettings

from .endpoints import verification_out
from .service import verify
from .witness import WitnessFileError, parse_checkpoints


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
        return 0 if report.result.ok else 1

    return asyncio.run(run())
