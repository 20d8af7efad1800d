"""Which parameters of a block a phase selects: ``all``, ``bias``, ``norm``, ``added``, name patterns.

Pure: selectors + a resolved block (+ the names a policy's ``prepare`` added) -> parameter names.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from fnmatch import fnmatchcase

from .blockmap import BlockInfo

ALL = "all"
#: Selectors with a fixed meaning; anything else is an ``fnmatch`` pattern over parameter names.
KEYWORDS = {
    ALL: "every parameter of the block",
    "bias": "parameters named 'bias'",
    "norm": "affine parameters of normalisation layers",
    "added": "parameters the policy's prepare() added (adapters)",
}
_GLOB = set("*?[")


def selector_error(selector: object) -> str | None:
    """Why ``selector`` is not a valid selector, or None when it is."""
    if not isinstance(selector, str) or not selector:
        return f"selector {selector!r} must be a non-empty string"
    if selector in KEYWORDS or _GLOB & set(selector) or "." in selector:
        return None
    return (
        f"unknown selector {selector!r}; use one of {', '.join(KEYWORDS)} "
        "or a parameter-name pattern such as '*.attention.*'"
    )


def matches(selector: str, name: str, block: BlockInfo, added: frozenset[str]) -> bool:
    if selector == ALL:
        return True
    if selector == "bias":
        return name.rsplit(".", 1)[-1] == "bias"
    if selector == "norm":
        return name in block.norm_params
    if selector == "added":
        return name in added
    return fnmatchcase(name, selector)


def select(block: BlockInfo, selectors: Sequence[str], added: frozenset[str] = frozenset()) -> list[str]:
    """The names of ``block``'s parameters that any of ``selectors`` matches, in block order."""
    if ALL in selectors:
        return list(block.params)
    return [p for p in block.params if any(matches(s, p, block, added) for s in selectors)]


def unmatched(selectors: Iterable[str], blocks: Sequence[BlockInfo], added: frozenset[str]) -> list[str]:
    """Selectors that match no parameter of any of ``blocks`` (most likely a typo)."""
    return [s for s in selectors if not any(matches(s, p, b, added) for b in blocks for p in b.params)]


def label(selectors: Sequence[str]) -> str:
    """How ``headstart plan`` shows a selection: ``all``, ``bias+norm``, ``added``, patterns."""
    return ALL if ALL in selectors else "+".join(selectors)
