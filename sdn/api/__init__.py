"""NSX Manager's own REST API over the state (``sdn serve``): the only package that
imports FastAPI, Starlette or uvicorn."""
