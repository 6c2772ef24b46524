"""The version of the tool: stamped on committed files, deploy history rows and query tags."""

__version__ = "0.1.0"
