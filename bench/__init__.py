"""Load-testing kit: seed data, wrk and WebSocket scenarios, reports."""
