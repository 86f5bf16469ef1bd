"""The JavaScript half of the sandbox, evaluated in every fresh engine context before a template.

It defines ``require`` and the JS-side APIs, a promise implementation and a task queue that the
host drains explicitly (so callbacks, ``callLater`` and promise reactions run inside the time limit
and can be drained synchronously by ``runCode`` in template tests), and the template-test APIs.
Everything else calls the Python host through one function, ``__host(name, argsJson)``, with values
encoded as described in :mod:`gtm_emulator.sandbox.values`.
"""

from pathlib import Path

PRELUDE = Path(__file__).with_name("prelude.js").read_text(encoding="utf-8")
