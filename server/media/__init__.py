"""Media: upload intake (sniffing, limits, re-encoding) and storage backends."""
