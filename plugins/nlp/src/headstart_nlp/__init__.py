"""Headstart's NLP plugin: BERT-family encoders (``hf:<id or directory>``) as sources, and text
classification (single texts and pairs), text regression and token classification (NER) as tasks.

Discovered through the ``headstart`` entry-point group; ``plugin.py`` holds the hook implementations.
"""

__version__ = "0.1.0"
