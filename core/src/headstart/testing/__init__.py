"""Headstart's contract kit: checks that every source provider, source, task, policy, dataset
format and metric must pass, for plugin authors and for Headstart's own test suite.

Two ways to use it:

* **Base classes** for pytest (``PolicyContract``, ``SourceContract``, ``TaskContract``): subclass
  one in a test module and set one attribute (``policy_name = "l2-sp"``).
* **Check functions** usable anywhere (``check_policy(policy)``, ``check_source(source)``,
  ``check_task(task, source)`` …): each raises :class:`ContractError` saying what is wrong.

Tasks and sources are checked on tiny offline examples their plugin provides through optional
``contract_example`` functions (see :mod:`headstart.testing.examples` and
``docs/testing-plugins.md``). The kit is also a pytest plugin (``pytest11`` entry point
``headstart``) with fixtures, see :mod:`headstart.testing.pytest_plugin`.
"""

from __future__ import annotations

from .components import (
    check_format,
    check_metric,
    check_plugin_listed,
    check_unknown_name,
    plugins_listing,
)
from .env import PluginEnv
from .errors import ContractError
from .examples import TaskExample, as_task_example, format_example, policy_options, source_examples, task_example
from .policies import BLOCK_MAPS, EPOCHS, check_policy
from .policy_model import TinySource, check_policy_on_model, tiny_model
from .runs import run_context
from .sources import (
    check_block_map,
    check_describe,
    check_forward,
    check_output_spec,
    check_provider,
    check_reinitialize_and_round_trip,
    check_source,
    check_unknown_option,
    check_unknown_source,
)
from .suites import PolicyContract, SourceContract, TaskContract
from .tasks import (
    check_data,
    check_frozen_prefix,
    check_head,
    check_picklable,
    check_predict,
    check_round_trip,
    check_step,
    check_task,
    check_training_run,
)

__all__ = [
    "BLOCK_MAPS",
    "EPOCHS",
    "ContractError",
    "PluginEnv",
    "PolicyContract",
    "SourceContract",
    "TaskContract",
    "TaskExample",
    "TinySource",
    "as_task_example",
    "check_block_map",
    "check_data",
    "check_describe",
    "check_format",
    "check_forward",
    "check_frozen_prefix",
    "check_head",
    "check_metric",
    "check_output_spec",
    "check_picklable",
    "check_plugin_listed",
    "check_policy",
    "check_policy_on_model",
    "check_predict",
    "check_provider",
    "check_reinitialize_and_round_trip",
    "check_round_trip",
    "check_source",
    "check_step",
    "check_task",
    "check_training_run",
    "check_unknown_name",
    "check_unknown_option",
    "check_unknown_source",
    "format_example",
    "plugins_listing",
    "policy_options",
    "run_context",
    "source_examples",
    "task_example",
    "tiny_model",
]
