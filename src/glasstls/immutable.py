"""``@frozen``: the engine's value classes (messages, extensions, the stages of a
handshake) as slotted dataclasses that the type checker keeps immutable.

``@dataclass(frozen=True)`` enforces immutability at run time by going through
``object.__setattr__`` for every field of every instance it builds; a handshake
builds some seventy of them, and that was 4% of its instructions (callgrind,
issue 16). ``@frozen`` classes are assigned to plainly when built; mypy (strict,
in CI) rejects any later assignment as it does for a frozen dataclass, and they
compare and hash by value the same way::

    @frozen
    class Finished:
        verify_data: bytes
"""

from __future__ import annotations

import dataclasses
from typing import TypeVar, dataclass_transform

T = TypeVar("T")


@dataclass_transform(frozen_default=True, field_specifiers=(dataclasses.field,))
def frozen(cls: type[T]) -> type[T]:
    # unsafe_hash: the __hash__ a frozen dataclass has (by value), without frozen.
    return dataclasses.dataclass(slots=True, unsafe_hash=True)(cls)


__all__ = ["frozen"]
