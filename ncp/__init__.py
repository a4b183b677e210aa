"""ncp: the container plugin. Kubernetes objects in, sdn (NSX-T Policy) intent out."""
