"""Custom templates (``.tpl``): parsing, validation and running their sandboxed JavaScript.

``load_template`` / ``validate_template`` read a file; ``run_variable_template`` runs a variable
template; :class:`gtm_emulator.tags.template_tag.TemplateTag` runs tag templates;
:func:`gtm_emulator.sandbox.testing.run_tests` runs a template's own ``___TESTS___``.
"""

from __future__ import annotations

from .apis import SandboxEnv
from .permissions import DEFAULT_ENFORCEMENT, ENFORCEMENT_MODES, PermissionDenied, Permissions
from .runtime import (
    DEFAULT_MEMORY_LIMIT,
    DEFAULT_TIME_LIMIT_S,
    RunOutcome,
    SandboxFailure,
    run_tag_code,
    run_value_code,
)
from .tpl import CustomTemplate, TestScenario, load_template, validate_template
from .variables import run_variable_template

__all__ = [
    "DEFAULT_ENFORCEMENT",
    "DEFAULT_MEMORY_LIMIT",
    "DEFAULT_TIME_LIMIT_S",
    "ENFORCEMENT_MODES",
    "CustomTemplate",
    "PermissionDenied",
    "Permissions",
    "RunOutcome",
    "SandboxEnv",
    "SandboxFailure",
    "TestScenario",
    "load_template",
    "run_tag_code",
    "run_value_code",
    "run_variable_template",
    "validate_template",
]
