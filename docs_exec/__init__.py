"""Run documentation snippets once per cache key and place their output and figures in pages."""

__version__ = "0.1.0"
