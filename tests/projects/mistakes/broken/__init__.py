"""Models with the mistakes ROWBOAT_MODELS meets in real projects, one per module."""
