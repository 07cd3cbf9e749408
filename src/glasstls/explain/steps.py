"""The key schedule as a list of computed steps, each with its inputs and output.

A ``Step`` is one application of a function of the schedule (HKDF-Extract,
Derive-Secret, HKDF-Expand-Label, the TLS 1.2 PRF, an HMAC, a key exchange) or a
value taken as given (from the key log or the engine). Inputs name the step they
come from, so the steps form the diagram of RFC 8446 §7.1; a traffic key names
the records it protects.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Input:
    role: str  # "salt", "IKM", "Secret", "Context"...
    ref: str = ""  # the step whose output this is
    text: str = ""  # what it is, when it is not a step's output
    value: bytes | None = None
    secret: bool = False


@dataclass
class Step:
    name: str
    operation: str
    output: bytes
    rfc: str
    inputs: list[Input] = field(default_factory=list)
    label: str = ""
    stage: str = ""
    secret: bool = True
    # "computed", "key log" or "engine": where the output came from.
    source: str = "computed"
    # The result of comparing with another source ("matches the key log").
    check: str = ""
    # Indices of the records this key (or IV) protects.
    protects: list[int] = field(default_factory=list)

    def to_json(self, show_secrets: bool) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name, "operation": self.operation, "stage": self.stage,
            "rfc": self.rfc, "source": self.source, "secret": self.secret,
            "output": shown(self.output, self.secret, show_secrets),
            "inputs": [_input_json(i, show_secrets) for i in self.inputs],
        }
        if self.label:
            data["label"] = self.label
        if self.check:
            data["check"] = self.check
        if self.protects:
            data["protects_records"] = self.protects
        return data


def _input_json(item: Input, show_secrets: bool) -> dict[str, Any]:
    data: dict[str, Any] = {"role": item.role}
    if item.ref:
        data["from"] = item.ref
    if item.text:
        data["text"] = item.text
    if item.value is not None:
        data["value"] = shown(item.value, item.secret, show_secrets)
    return data


def fingerprint(value: bytes) -> str:
    """What stands for a secret when secrets are not shown: enough to tell two
    apart and to match them across views, nothing to recover them."""
    return "sha256:" + hashlib.sha256(value).hexdigest()[:12]


def shown(value: bytes, secret: bool, show_secrets: bool) -> str:
    if secret and not show_secrets:
        return fingerprint(value)
    return value.hex()


class Steps:
    """The steps of one connection, in the order they were computed."""

    def __init__(self) -> None:
        self.items: list[Step] = []
        self._by_name: dict[str, Step] = {}

    def add(self, step: Step) -> bytes:
        self.items.append(step)
        self._by_name[step.name] = step
        return step.output

    def get(self, name: str) -> Step | None:
        return self._by_name.get(name)

    def value(self, name: str) -> bytes | None:
        step = self._by_name.get(name)
        return step.output if step is not None else None

    def given(self, name: str, value: bytes, source: str, rfc: str, stage: str,
              text: str) -> bytes:
        return self.add(Step(name, "given", value, rfc, stage=stage, source=source,
                             inputs=[Input("value", text=text)]))

    def compare(self, name: str, other: bytes | None, source: str) -> None:
        """Note whether a computed value agrees with ``source``'s."""
        step = self._by_name.get(name)
        if step is None or other is None:
            return
        step.check = (f"matches the {source}" if other == step.output
                      else f"DIFFERS from the {source} (sha256 {fingerprint(other)})")
