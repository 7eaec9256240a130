"""helpline: a multilingual chatbot service for a refugee information line."""

__version__ = "0.1.0"
