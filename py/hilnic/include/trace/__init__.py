"""include/trace/: tracepoint definitions (the events themselves are in events/)."""
