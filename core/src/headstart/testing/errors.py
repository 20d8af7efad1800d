"""The one error of the contract kit."""

from __future__ import annotations


class ContractError(AssertionError):
    """A component breaks the Headstart contract; the message says what is wrong and what is right.

    It is an ``AssertionError`` so pytest shows it as a test failure, not as an error.
    """
