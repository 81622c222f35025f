"""Referral codes and the rules of joining through one.

Codes are random (8 characters of a 32-letter alphabet without look-alikes:
40 bits), compared case-insensitively, made once and never changed.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from gamify.errors import ReferralError
from gamify.store import MemberRecord

__all__ = ["ALPHABET", "check_join", "new_code", "normalize"]

ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no I, O, 0 or 1
CODE_LENGTH = 8
MAX_CHAIN = 10_000  # a referral chain longer than this is treated as a cycle


def new_code() -> str:
    """A fresh random code."""
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def normalize(code: str) -> str:
    """Codes compare case-insensitively, ignoring surrounding spaces."""
    if not isinstance(code, str) or not code.strip():
        raise ReferralError(f"referral code must be a non-empty string, not {code!r}")
    return code.strip().upper()


def check_join(
    member: MemberRecord,
    referrer_id: str,
    code: str,
    owner_now: str | None,
    load: Callable[[str], MemberRecord | None],
) -> None:
    """Refuse a join that breaks a referral rule (nothing is written then)."""
    if owner_now != referrer_id:
        raise ReferralError(f"unknown referral code {code!r}")
    if referrer_id == member.member_id:
        raise ReferralError("a member cannot refer themselves")
    if member.referrer is not None:
        raise ReferralError(f"member {member.member_id!r} already has a referrer")
    if member.state.get("counts"):
        raise ReferralError(
            f"member {member.member_id!r} already tracked an event: join through a code first"
        )
    seen = 0
    current: str | None = referrer_id
    while current is not None and seen < MAX_CHAIN:
        if current == member.member_id:
            raise ReferralError("this referral would make a cycle")
        record = load(current)
        current = record.referrer if record is not None else None
        seen += 1
    if current is not None:
        raise ReferralError("this referral would make a cycle")
