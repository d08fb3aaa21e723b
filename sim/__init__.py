"""relaysim: a discrete-event simulator and teaching environment for Internet mail relay."""

__version__ = "0.1.0"
