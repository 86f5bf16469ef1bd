"""``${NAME}`` / ``${NAME:-default}`` substitution in configuration files.

Strings and object keys may refer to environment variables. A value substituted from a variable
whose name says it holds a secret (TOKEN, SECRET, KEY, PASSWORD, AUTH…) is collected so that every
report masks it (see docs/configuration.md, "Secrets and the environment").
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..errors import Problem
from .files import json_path

__all__ = ["ENV_REF", "SECRET_ENV_NAME", "substitute_env"]

ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
# ${ENV} values whose variable name says it holds a secret are masked in every report.
SECRET_ENV_NAME = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|API_?KEY|AUTH|CREDENTIAL", re.IGNORECASE)


def substitute_env(data: Any, env: Mapping[str, str], file: str, problems: list[Problem],
                   secrets: set[str], path: tuple[Any, ...] = ()) -> Any:
    """Replace ``${NAME}`` / ``${NAME:-default}`` in every string (object keys included).

    >>> problems: list[Problem] = []; secrets: set[str] = set()
    >>> substitute_env({"token": "${API_TOKEN}", "id": "${ID:-7}"}, {"API_TOKEN": "t0k"}, "f", problems, secrets)
    {'token': 't0k', 'id': '7'}
    >>> secrets, problems
    ({'t0k'}, [])
    """
    if isinstance(data, str):
        if "${" not in data:
            return data

        def repl(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            value = env.get(name)
            if value is None:
                if default is None:
                    problems.append(Problem(file, json_path(path), f"environment variable {name} is not set "
                                            f"(write ${{{name}:-default}} to give a default)"))
                    return ""
                value = default
            if SECRET_ENV_NAME.search(name):
                secrets.add(value)
            return value

        return ENV_REF.sub(repl, data)
    if isinstance(data, dict):
        return {substitute_env(k, env, file, problems, secrets, (*path, k)): substitute_env(
                    v, env, file, problems, secrets, (*path, k)) for k, v in data.items()}
    if isinstance(data, list):
        return [substitute_env(v, env, file, problems, secrets, (*path, i)) for i, v in enumerate(data)]
    return data
