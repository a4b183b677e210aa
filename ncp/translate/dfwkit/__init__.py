"""The distributed-firewall kit: what every Kubernetes policy translator builds NSX from.

NetworkPolicy (:mod:`ncp.translate.networkpolicy`), the admin policies
(:mod:`ncp.translate.adminpolicy`) and NCP's baseline (:mod:`ncp.translate.baseline`) differ
in their Kubernetes shape, but map the same pieces the same way; keeping those pieces here,
apart from each policy kind (as Antrea keeps ``crd_utils.go`` apart from its policy
controllers), is what makes a selector, a CIDR or a port mean one thing in every kind:

* :mod:`~ncp.translate.dfwkit.errors`: how a policy's errors are collected and reported (one
  :class:`~sdn.errors.Problem` each, a bad policy yielding no objects);
* :mod:`~ncp.translate.dfwkit.selectors`: label selectors, as NSX tag conditions and as
  selections of the cluster's pods;
* :mod:`~ncp.translate.dfwkit.addresses`: CIDRs and ``ipBlock`` (the ``except`` cut out);
* :mod:`~ncp.translate.dfwkit.ports`: protocols, port numbers, ranges and port names;
* :mod:`~ncp.translate.dfwkit.rules`: groups, rules and security policies, and the
  expansion of named ports into one rule per resolved number.

Importers name the module a piece lives in; this package re-exports nothing.
"""
