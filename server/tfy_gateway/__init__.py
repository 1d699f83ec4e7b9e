"""tfy-gateway: configure, validate and test a TrueFoundry-style AI gateway."""

__version__ = "0.1.0"
