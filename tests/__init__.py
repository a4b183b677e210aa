"""The test suite, a package so that its helpers have qualified names (``tests.support``).

Only the repository root is on ``sys.path`` (``pythonpath`` in ``pyproject.toml``): the
folders that mirror the packages (``tests/sdn``, ``tests/ncp``, ``tests/topologies``) are
never importable as ``sdn``, ``ncp`` or ``topologies``, so plain ``pytest`` and
``python -m pytest`` import the same code.
"""
