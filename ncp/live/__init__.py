"""The live runtime of ``ncp run`` (see :mod:`ncp.live.runner`)."""
