"""Where cluster objects come from: manifests on disk (:mod:`ncp.sources.manifests`), or a
live API (:mod:`ncp.sources.kube`, the only importer of the ``kubernetes`` client, and
its list-then-watch loop, :mod:`ncp.sources.watch`).

Sources are the I/O edge of ncp: they turn files or API answers into plain
:class:`~ncp.objects.K8sObject` values that the pure :mod:`ncp.translate` reads (or, for a
watch, object bodies put into whatever cache the caller gives).
"""

from ncp.sources.manifests import ManifestSet, read_manifests

__all__ = ["ManifestSet", "read_manifests"]
