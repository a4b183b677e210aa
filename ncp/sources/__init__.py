"""Where cluster objects come from: manifests on disk (:mod:`ncp.sources.manifests`).

Sources are the I/O edge of ncp: they turn files (or, later, a live API) into plain
:class:`~ncp.sources.manifests.K8sObject` values that the pure :mod:`ncp.translate` reads.
"""

from ncp.sources.manifests import K8sObject, ManifestSet, read_manifests

__all__ = ["K8sObject", "ManifestSet", "read_manifests"]
