"""catalens: streaming, object-level visual search for live product catalogs."""

__version__ = "0.1.0"
