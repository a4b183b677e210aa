"""Where cluster objects come from: manifests on disk (:mod:`ncp.sources.manifests`).

Sources are the I/O edge of ncp: they turn files (or, later, a live API) into plain
:class:`~ncp.objects.K8sObject` values that the pure :mod:`ncp.translate` reads.
"""

from ncp.sources.manifests import ManifestSet, read_manifests

__all__ = ["ManifestSet", "read_manifests"]
