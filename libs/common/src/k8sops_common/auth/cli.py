"""`k8sops-token`: mint a bearer token for local use with the dev secret (or K8SOPS_JWT_SECRET)."""

from __future__ import annotations

import argparse

from ..settings import ServiceSettings
from .principal import Role
from .tokens import mint_token


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="k8sops-token", description=__doc__)
    parser.add_argument("--sub", required=True, help="subject, e.g. alice@customer.example")
    parser.add_argument("--role", action="append", default=[], choices=[role.value for role in Role])
    parser.add_argument("--engagement", action="append", default=[], help="engagement id (repeatable)")
    parser.add_argument("--ttl", type=int, default=3600, help="seconds until it expires")
    args = parser.parse_args(argv)
    settings = ServiceSettings()
    print(
        mint_token(
            settings.jwt_secret,
            sub=args.sub,
            roles=args.role,
            engagements=args.engagement,
            ttl_s=args.ttl,
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
        )
    )


if __name__ == "__main__":
    main()
