"""The version of the headstart distribution (a module of its own, so any module can read it)."""

__version__ = "0.1.0"
