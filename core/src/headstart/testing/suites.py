"""Contract test classes: subclass one in your test module and fill in one attribute.

.. code-block:: python

    from headstart.testing import PolicyContract, SourceContract, TaskContract

    class TestMyPolicy(PolicyContract):
        policy_name = "l2-sp"

    class TestMySource(SourceContract):
        source_name = "ts:cnn1d"            # plus source_options = {...} if it needs some

    class TestMyTask(TaskContract):
        task_name = "series-classification"  # its factory's contract_example(tmp_path) gives the data

Every ``test_*`` method below then runs as a test of your component. Components are built
through the registry, exactly as ``headstart run`` builds them, so the plugin must be installed
(``pip install -e .``) for these tests to find it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import pytest

from ..inference.state import INFERENCE_FILE
from ..interfaces import PredictingTask, SourceModel, SourceProvider, TargetTask, TransferPolicy
from ..options import ConfigError, call_with_options
from ..registry import get_registry
from . import sources, tasks
from .components import check_unknown_name
from .errors import ContractError
from .examples import TaskExample, as_task_example, policy_options, task_example
from .policies import check_policy
from .policy_model import check_policy_on_model


def _required(cls: type, attr: str, example: str) -> str:
    value = getattr(cls, attr, "")
    if not value:
        raise ContractError(f"{cls.__name__} must set the class attribute {attr}, e.g. {attr} = {example!r}")
    return str(value)


class PolicyContract:
    """Checks a registered transfer policy. Set ``policy_name``; ``policy_options`` (default: the
    factory's ``contract_example`` or ``{}``) are its options."""

    policy_name: ClassVar[str] = ""
    policy_options: ClassVar[dict[str, Any] | None] = None

    @pytest.fixture(scope="class")
    @classmethod
    def policy(cls, tmp_path_factory: pytest.TempPathFactory) -> TransferPolicy:
        name = _required(cls, "policy_name", "my-policy")
        ptype = get_registry().policy_type(name)
        options = cls.policy_options
        if options is None:
            options = policy_options(ptype, tmp_path_factory.mktemp("policy"))
        policy: TransferPolicy = call_with_options(ptype.factory, options, "policy")
        return policy

    def test_name_matches_registration(self, policy: TransferPolicy) -> None:
        assert policy.name == self.policy_name, (
            f"the policy registered as {self.policy_name!r} says name={policy.name!r}"
        )

    def test_valid_phases_on_any_block_map(self, policy: TransferPolicy) -> None:
        check_policy(policy)

    def test_on_a_model(self, tmp_path: Path) -> None:
        """Selections exist, plan counts match requires_grad, what prepare() adds survives a
        checkpoint (a fresh policy instance: prepare may keep state)."""
        ptype = get_registry().policy_type(self.policy_name)
        options = self.policy_options
        if options is None:
            options = policy_options(ptype, tmp_path / "options")
        check_policy_on_model(call_with_options(ptype.factory, options, "policy"), tmp_path)

    def test_unknown_option_is_an_error(self) -> None:
        ptype = get_registry().policy_type(self.policy_name)
        with pytest.raises(ConfigError, match="no_such_option_zzz"):
            call_with_options(ptype.factory, {"no_such_option_zzz": 1}, "policy")

    def test_unknown_policy_name_lists_valid_ones(self) -> None:
        check_unknown_name("policy")


class SourceContract:
    """Checks a source resolved from ``source_name`` (``"scheme:name"``) with ``source_options``,
    and its provider. Override :meth:`example_inputs` to also check ``forward``."""

    source_name: ClassVar[str] = ""
    source_options: ClassVar[dict[str, Any]] = {}

    def example_inputs(self, source: SourceModel) -> Any:
        """Collated inputs for ``source.forward`` (a few examples); ``None`` skips the forward check.
        A task contract checks forward too, on the task's own batch."""
        return None

    @classmethod
    def make_source(cls) -> SourceModel:
        name = _required(cls, "source_name", "scheme:name")
        return get_registry().source(name, **cls.source_options)

    @pytest.fixture(scope="class")
    @classmethod
    def source(cls) -> SourceModel:
        return cls.make_source()

    def _providers(self) -> list[SourceProvider]:
        return get_registry().providers_for(self.source_name.partition(":")[0])

    def test_is_a_source_model(self, source: SourceModel) -> None:
        if not isinstance(source, SourceModel):
            sources.check_source(source)  # raises with the missing members

    def test_block_map_covers_every_parameter_once(self, source: SourceModel) -> None:
        sources.check_block_map(source)

    def test_output_spec_and_describe(self, source: SourceModel) -> None:
        sources.check_output_spec(source)
        sources.check_describe(source)

    def test_reinitialize_and_checkpoint_round_trip(self, tmp_path: Path) -> None:
        sources.check_reinitialize_and_round_trip(self.make_source(), tmp_path)

    def test_forward_follows_block_order(self, source: SourceModel) -> None:
        inputs = self.example_inputs(source)
        if inputs is None:
            pytest.skip("example_inputs() is not overridden; the task contract checks forward")
        sources.check_forward(source, inputs)

    def test_provider(self) -> None:
        for provider in self._providers():
            sources.check_provider(provider)

    def test_unknown_name_lists_valid_ones(self) -> None:
        sources.check_unknown_source(self.source_name.partition(":")[0])

    def test_unknown_option_is_an_error(self) -> None:
        for provider in self._providers():
            try:
                provider.resolve(self.source_name.partition(":")[2], **self.source_options)
            except LookupError:
                continue
            sources.check_unknown_option(provider, self.source_name, self.source_options)
            return
        raise ContractError(f"no provider resolved {self.source_name!r}")


class TaskContract:
    """Checks a registered task on its own tiny example. Set ``task_name``; the example comes from
    the task factory's ``contract_example(tmp_path)``, or override :meth:`contract_example`."""

    task_name: ClassVar[str] = ""

    @classmethod
    def contract_example(cls, tmp_path: Path) -> TaskExample | dict[str, Any]:
        """``{"source": {"name": ..., ...}, "task": {...options}}`` with data written under ``tmp_path``;
        override it (as a classmethod) when the task factory has no ``contract_example``."""
        name = _required(cls, "task_name", "my-task")
        return task_example(get_registry().task_type(name), tmp_path)

    @pytest.fixture(scope="class")
    @classmethod
    def example(cls, tmp_path_factory: pytest.TempPathFactory) -> TaskExample:
        return as_task_example(cls.contract_example(tmp_path_factory.mktemp("example")))

    def make(self, example: TaskExample, prepare: bool = True) -> tuple[TargetTask, SourceModel]:
        """A fresh source and task (prepared on it) from the example."""
        source = get_registry().source(example.source_name, **example.source_options)
        ttype = get_registry().task_type(self.task_name)
        task: TargetTask = call_with_options(ttype.factory, example.task, "task")
        if prepare:
            task.prepare(source)
        return task, source

    def test_is_a_target_task(self, example: TaskExample) -> None:
        task, _ = self.make(example, prepare=False)
        assert isinstance(task, TargetTask), f"{type(task).__name__} lacks members of headstart.TargetTask"
        assert task.name == self.task_name, f"the task registered as {self.task_name!r} says name={task.name!r}"
        for m in task.metrics:
            get_registry().metric(m)

    def test_data_and_collate(self, example: TaskExample) -> None:
        tasks.check_data(self.make(example)[0])

    def test_head_built_from_output_spec(self, example: TaskExample) -> None:
        task, source = self.make(example)
        batch = tasks.check_data(task)
        tasks.check_head(task, source, sources.check_forward(source, batch["inputs"]))

    def test_forward_backward_step(self, example: TaskExample) -> None:
        task, source = self.make(example)
        tasks.check_step(task, source, tasks.check_data(task), task.build_head(source.output_spec))

    def test_frozen_prefix_under_a_freeze_plan(self, example: TaskExample) -> None:
        task, source = self.make(example)
        tasks.check_frozen_prefix(task, source, tasks.check_data(task))

    def test_checkpoint_round_trip(self, example: TaskExample, tmp_path: Path) -> None:
        task, source = self.make(example)
        tasks.check_round_trip(task, source, tasks.check_data(task), tmp_path)

    def test_picklable_for_data_workers(self, example: TaskExample) -> None:
        tasks.check_picklable(self.make(example)[0])

    def test_trains_one_epoch(self, example: TaskExample, tmp_path: Path) -> None:
        tasks.check_training_run(example.source, {"name": self.task_name, **example.task}, tmp_path)

    def test_predicts_from_its_run_directory(self, example: TaskExample, tmp_path: Path) -> None:
        task, _ = self.make(example, prepare=False)
        if not isinstance(task, PredictingTask):
            pytest.skip(f"task {self.task_name!r} does not implement PredictingTask: no headstart predict / evaluate")
        tasks.check_training_run(example.source, {"name": self.task_name, **example.task}, tmp_path)
        state = json.loads((tmp_path / "run" / INFERENCE_FILE).read_text(encoding="utf-8"))
        assert state["task"], f"task {self.task_name!r}: inference_state() is empty"
        tasks.check_predict(tmp_path / "run", example.inputs, self.task_name)

    def test_unknown_task_name_lists_valid_ones(self) -> None:
        check_unknown_name("task")

    def test_unknown_option_is_an_error(self) -> None:
        ttype = get_registry().task_type(self.task_name)
        with pytest.raises(ConfigError, match="no_such_option_zzz"):
            call_with_options(ttype.factory, {"no_such_option_zzz": 1}, "task")


__all__ = ["PolicyContract", "SourceContract", "TaskContract"]
