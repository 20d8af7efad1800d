"""L2-SP for Headstart: a third-party plugin written only with Headstart's public API."""

__version__ = "0.1.0"
