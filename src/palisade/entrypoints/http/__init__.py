"""The HTTP API under /v1. The OpenAPI document it serves is the contract."""
