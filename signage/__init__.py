"""signage: the commune bulletin-board player and the district tools that feed it."""

__version__ = "0.1.0"
