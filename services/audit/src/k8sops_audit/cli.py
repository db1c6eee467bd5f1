"""`python -m k8sops_audit verify [--from N] [--to N]`: re-walk the chain from the command line."""

from __future__ import annotations

import argparse
import asyncio

from k8sops_common.db import Database, engine_from_settings
from k8sops_common.settings import ServiceSettings

from .endpoints import verification_out
from .service import verify


def verify_command(settings: ServiceSettings, argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="k8sops_audit verify", description="Re-walk the audit hash chain.")
    parser.add_argument("--from", dest="first", type=int, default=1, help="first sequence number (default 1)")
    parser.add_argument("--to", dest="last", type=int, default=None, help="last sequence number (default: the head)")
    args = parser.parse_args(argv)

    async def run() -> int:
        database = Database(engine_from_settings(settings))
        try:
            async with database.sessions() as session:
                report = await verify(session, args.first, args.last)
        finally:
            await database.dispose()
        print(verification_out(report.result, args.first, report.checkpoints_checked).model_dump_json(indent=2))
        return 0 if report.result.ok else 1

    return asyncio.run(run())
