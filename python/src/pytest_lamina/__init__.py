"""pytest-lamina: pytest fixtures that run lamina, a local AWS Lambda emulator.

Fixtures (the plugin registers itself through the `pytest11` entry point):
  lamina         session: a `Lamina` (endpoint, session(), client(), deploy_template(),
                 logs(), invocations(), reset()); a server of its own on a free port, or the
                 one `lamina run -- pytest` started
  lamina_reset   per test: POST /_lamina/reset before the test, then the same `Lamina`
"""

from .server import Lamina, LaminaError, find_lamina_binary

__all__ = ["Lamina", "LaminaError", "find_lamina_binary"]
__version__ = "0.1.0"
