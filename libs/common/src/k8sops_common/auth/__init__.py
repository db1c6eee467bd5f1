from .dependencies import Authenticated, Reader, authenticate, require_any_role
from .principal import Principal, Role
from .tokens import InvalidToken, TokenVerifier, mint_token

__all__ = [
    "Authenticated",
    "InvalidToken",
    "Principal",
    "Reader",
    "Role",
    "TokenVerifier",
    "authenticate",
    "mint_token",
    "require_any_role",
]
