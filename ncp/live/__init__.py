"""The live runtime behind ``ncp run``, one job per module (as kopf groups its reactor).

* :mod:`~ncp.live.runner`: the :class:`~ncp.live.runner.Runner`, which wires the rest;
* :mod:`~ncp.live.feeds`: what fills the cache (a live API's watches, manifests on disk);
* :mod:`~ncp.live.cache`: the latest objects seen, and which changed since the last pass;
* :mod:`~ncp.live.worker`: the reconcile passes, the only writer of the state;
* :mod:`~ncp.live.applied`: the cache version the state has caught up with;
* :mod:`~ncp.live.writeback`, :mod:`~ncp.live.statuswriter`: status back to Kubernetes;
* :mod:`~ncp.live.chores`: what quiet times are for;
* :mod:`~ncp.live.leader`: Lease leader election;
* :mod:`~ncp.live.metrics`, :mod:`~ncp.live.instruments`: ``/metrics`` and ``/healthz``;
* :mod:`~ncp.live.options`: :class:`~ncp.live.options.RunOptions`.

The runtime never imports ``kubernetes``: every request goes through
:class:`ncp.sources.kube.KubeClient`, and the watch loop is a source
(:mod:`ncp.sources.watch`). Nothing below it (reconcile, sources, translate) imports it.
"""
