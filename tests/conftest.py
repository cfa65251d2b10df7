"""Suite-wide pytest configuration.

With `tests/__init__.py` present, pytest (default "prepend" import mode) imports this file as
`tests.conftest` and puts the repository root on `sys.path` first, so every test module can
`from tests.support.gtp import GtpClient` however pytest was started.
"""
