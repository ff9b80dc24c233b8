"""simk8s: a discrete-event simulator of Kubernetes service networking."""

__version__ = "0.1.0"
