"""`syndicator approvers add|code|list|remove`: people who decide, and their link codes.

`add NAME` prints a one-time code; the person sends `lien ket CODE` (or `/lienket CODE`) to the
Zalo bot, which binds their Zalo account to NAME. Codes are random (no look-alike characters),
expire (`--ttl`, default 24 h), are single-use, and only their hash is stored.
"""

from __future__ import annotations

import json
import secrets
from datetime import timedelta
from typing import Any

from syndicator.cli.common import Context, iso, print_table
from syndicator.durations import parse_duration
from syndicator.errors import SyndicatorError

ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: codes are read aloud and retyped
CODE_LENGTH = 8
ACTOR = "cli"


def new_code() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
    return f"{raw[:4]}-{raw[4:]}"


def register(sub: Any) -> None:
    p = sub.add_parser("approvers", help="manage approvers and link their chat accounts")
    asub = p.add_subparsers(dest="approvers_command", required=True, metavar="ACTION")
    add = asub.add_parser("add", help="create an approver and print a one-time link code")
    add.add_argument("name", metavar="NAME")
    add.add_argument("--admin", action="store_true", help="may also retry failed posts")
    add.add_argument("--ttl", default="24h", help="how long the code stays valid (default 24h)")
    add.add_argument("--format", choices=["text", "json"], default="text")
    add.set_defaults(handler=add_cmd)
    code = asub.add_parser("code", help="issue a new link code for an existing approver")
    code.add_argument("name", metavar="NAME")
    code.add_argument("--ttl", default="24h")
    code.add_argument("--format", choices=["text", "json"], default="text")
    code.set_defaults(handler=code_cmd)
    lst = asub.add_parser("list", help="approvers and their linked accounts")
    lst.add_argument("--format", choices=["text", "json"], default="text")
    lst.set_defaults(handler=list_cmd)
    rm = asub.add_parser("remove", help="unlink every account of an approver; codes are voided")
    rm.add_argument("name", metavar="NAME")
    rm.set_defaults(handler=remove_cmd)


def _ttl(value: str) -> timedelta:
    try:
        ttl = parse_duration(value)
    except ValueError as exc:
        raise SyndicatorError(f"--ttl: {exc}") from None
    if not timedelta(minutes=1) <= ttl <= timedelta(days=30):
        raise SyndicatorError("--ttl must be between 1 minute and 30 days")
    return ttl


def add_cmd(ctx: Context) -> int:
    ttl, now = _ttl(ctx.args.ttl), ctx.now
    approver = ctx.storage.add_approver(
        ctx.args.name, is_admin=ctx.args.admin, actor=ACTOR, now=now
    )
    return _issue(ctx, approver.name, ttl, created=True)


def code_cmd(ctx: Context) -> int:
    return _issue(ctx, ctx.args.name, _ttl(ctx.args.ttl), created=False)


def _issue(ctx: Context, name: str, ttl: timedelta, *, created: bool) -> int:
    code, now = new_code(), ctx.now
    approver = ctx.storage.issue_link_code(name, code, expires_at=now + ttl, actor=ACTOR, now=now)
    if ctx.args.format == "json":
        print(json.dumps({"approver": approver.name, "id": approver.id, "admin": approver.is_admin,
                          "code": code, "expires_at": iso(now + ttl)}, ensure_ascii=False))  # fmt: skip
        return 0
    if created:
        print(f"approver {approver.name!r} added" + (" (admin)" if approver.is_admin else ""))
    print(f"link code: {code}  (valid until {iso(now + ttl)}, single use)")
    print(f"The person sends to the Zalo bot:  lien ket {code}")
    return 0


def list_cmd(ctx: Context) -> int:
    approvers = ctx.storage.list_approvers()
    if ctx.args.format == "json":
        rows = [{"approver": a.name, "id": a.id, "admin": a.is_admin, "created_at": iso(a.created_at),
                 "identities": [{"surface": i.surface, "user_id": i.user_id, "chat_id": i.chat_id,
                                 "display_name": i.display_name, "linked_at": iso(i.linked_at)}
                                for i in a.identities]}
                for a in approvers]  # fmt: skip
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    if not approvers:
        print("no approvers yet (syndicator approvers add NAME)")
        return 0
    print_table(
        ["name", "admin", "linked accounts"],
        [(a.name, "yes" if a.is_admin else "",
          ", ".join(f"{i.surface}:{i.user_id} ({i.display_name})" for i in a.identities) or "-")
         for a in approvers],
    )  # fmt: skip
    return 0


def remove_cmd(ctx: Context) -> int:
    approver = ctx.storage.remove_approver(ctx.args.name, actor=ACTOR, now=ctx.now)
    print(f"approver {approver.name!r} removed; linked accounts unlinked, unused codes voided")
    return 0
