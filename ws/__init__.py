"""Real time: event bus, per-user event stream, WebSocket hub."""
