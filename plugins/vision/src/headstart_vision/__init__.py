"""Headstart's vision plugin: ImageNet CNNs and ViTs from timm and torchvision as sources, and an
image-classification task (ImageFolder trees, CSV files, or scikit-learn's digits built in).

Found through the ``headstart`` entry-point group like any third-party plugin; the hooks live in
:mod:`headstart_vision.plugin`.
"""

from __future__ import annotations

__version__ = "0.1.0"
