"""Development-only tooling: the `aiagent` CLI, the local sandbox, simulators, benchmarks.

Never shipped inside a function artifact (see `make build`).
"""
