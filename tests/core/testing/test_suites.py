"""The contract base classes, used the way a plugin author uses them: one attribute each."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import torch

from headstart import SourceModel
from headstart.testing import PolicyContract, SourceContract, TaskContract, TaskExample


class TestFullPolicy(PolicyContract):
    policy_name = "full"


class TestTopKPolicyWithOptions(PolicyContract):
    policy_name = "top-k"
    policy_options: ClassVar[dict[str, Any] | None] = {"k": 2}


class TestToySource(SourceContract):
    source_name = "toy:mlp"
    source_options: ClassVar[dict[str, Any]] = {"in_features": 4, "width": 8, "depth": 2}

    def example_inputs(self, source: SourceModel) -> Any:
        return {"x": torch.randn(3, 4)}


class TestToyTask(TaskContract):
    task_name = "vector-classification"

    @classmethod
    def contract_example(cls, tmp_path: Path) -> TaskExample | dict[str, Any]:
        # the toy task has no contract_example of its own, so the test class gives it
        return {
            "source": {"name": "toy:mlp", "in_features": 4, "width": 8},
            "task": {"synthetic": {"classes": 2, "per_class": 4, "in_features": 4}},
            "inputs": [[0.5, 0.1, -1.0, 2.0]],
        }
