"""Warnings about a valid config that is probably not what the office wants. Pure.

A config can be valid and still publish official news with nobody looking: `approval.mode =
"auto"`, or an `[[approval.auto_approve]]` rule with no categories, approves every article of
its source (domain brief: human approval by default, auto-approval only for a trusted source
and category). `check-config` prints these as `warning: ...` lines and the daemon logs them at
start; neither refuses the config, because an office may mean it.
"""

from __future__ import annotations

from syndicator.config import Settings

# Every article that matches no keyword, section or path gets DEFAULT_CATEGORY ("tin_tuc"),
# so a rule naming it approves most of a source.
from syndicator.sources.classify import CATEGORIES, DEFAULT_CATEGORY


def config_warnings(settings: Settings) -> list[str]:
    """One sentence per risky setting, naming the key."""
    out: list[str] = []
    approval = settings.approval
    sources = {s.id for s in settings.sources}
    if approval.mode == "auto":
        out.append(
            'approval.mode = "auto": every article of every source is published without a '
            'human (only secrecy-marked articles are held); use "manual" or "telegram" '
            "with narrow [[approval.auto_approve]] rules instead"
        )
    for i, rule in enumerate(approval.auto_approve):
        key = f"approval.auto_approve[{i}]"
        who = f"source {rule.source!r}" if rule.source else "every source"
        if rule.source and rule.source not in sources:
            out.append(
                f"{key}: source {rule.source!r} is not in [[sources]]; the rule never applies"
            )
            continue
        unknown = [c for c in rule.categories if c not in CATEGORIES]
        if unknown:
            out.append(f"{key}: unknown categories {unknown} (keys: {', '.join(CATEGORIES)})")
        if not rule.categories:
            out.append(
                f"{key}: no categories, so every article of {who} is published without a "
                "human; name the categories it may approve"
            )
        elif DEFAULT_CATEGORY in rule.categories:
            out.append(
                f"{key}: includes {DEFAULT_CATEGORY!r}, the category of every article no "
                f"keyword matches, so most articles of {who} are published without a human"
            )
        elif not rule.source:
            out.append(
                f"{key}: no source, so articles of these categories from every source "
                "(including ones added later) are published without a human"
            )
    return out
