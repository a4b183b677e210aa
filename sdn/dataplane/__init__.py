"""The state realized on this Linux host: network namespaces, bridges, veths, routes and
nftables (``sdn realize``), real packets through them (``sdn verify``, ``sdn traceflow
--live``). The only package that touches the Linux data path; its pure parts say where
every object lives (:mod:`sdn.dataplane.layout`) and which nftables tables each namespace
gets (:mod:`sdn.dataplane.nftgen`)."""
