"""The state realized on this Linux host: network namespaces, bridges, veths, routes and
nftables (``sdn realize``), real packets through them (``sdn verify``, ``sdn traceflow
--live``). The only package that touches the Linux data path; its pure part
(:mod:`sdn.dataplane.layout`) says where every object lives."""
