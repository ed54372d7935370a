"""The HTTP pipeline: middlewares, problem+json responses, schemas, OpenAPI, pagination, rate limits, idempotency, browser sessions, Conduit shapes."""
