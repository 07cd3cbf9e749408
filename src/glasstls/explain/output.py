"""An explained connection as JSON-ready data (what ``glasstls explain --json``
prints, and what the HTML page is rendered from)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .names import suite_text, version_text

if TYPE_CHECKING:
    from .dissect import Explained


def summary(explained: Explained) -> dict[str, Any]:
    facts = explained.facts
    group = facts.server_share[0] if facts.server_share else None
    from .names import group_text

    return {
        "version": version_text(facts.version) if facts.version else None,
        "cipher_suite": suite_text(facts.cipher_suite) if facts.cipher_suite else None,
        "group": group_text(group) if group is not None else None,
        "hello_retry_request": facts.hello_retry,
        "resumed": facts.selected_psk is not None,
        "early_data": ("accepted" if facts.early_data_accepted else "offered")
        if facts.early_data_offered else None,
        "client_random": facts.client_random.hex(),
        "server_random": facts.server_random.hex(),
        "records": len(explained.records),
        "decrypted_records": sum(1 for r in explained.records if r.plaintext is not None),
        "undecrypted_records": sum(1 for r in explained.records if r.note and
                                   r.plaintext is None),
    }


def explained_json(explained: Explained, show_secrets: bool) -> dict[str, Any]:
    return {
        "summary": summary(explained),
        "notes": explained.notes,
        "records": [{
            "index": r.index, "sender": r.sender, "time": r.time,
            "wire": r.wire.hex(),
            "plaintext": r.plaintext.hex() if r.plaintext is not None else None,
            "content_type": r.content_type, "protection": r.protection or None,
            "note": r.note or None, "messages": r.messages,
            "fields": r.tree.to_json(),
        } for r in explained.records],
        "messages": [{
            "index": m.index, "sender": m.sender, "kind": m.kind, "name": m.name,
            "records": m.records, "summary": m.tree.text, "fields": m.tree.to_json(),
        } for m in explained.messages],
        "key_schedule": [step.to_json(show_secrets) for step in explained.steps.items],
        "secrets_shown": show_secrets,
    }
