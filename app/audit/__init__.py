"""The audit log: recording, reading, history, revert and reconcile."""
