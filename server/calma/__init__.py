"""CALMA Studio: a real-time collaborative server for participatory, context-specific alignment."""

__version__ = "0.1.0"
