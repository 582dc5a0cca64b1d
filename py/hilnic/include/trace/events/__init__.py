"""include/trace/events/: the stack's tracepoints, one file per Linux header."""
