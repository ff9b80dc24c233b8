"""The errors a user can act on. The CLI turns each into one line and an exit status.

Scenario problems have their own exception (`simk8s.scenario.ScenarioError`, one
`FILE:LINE: path: message` line per problem); everything else a user did wrong, or that
stopped a run, is one of these. Anything else reaching the CLI is a bug in simk8s.
"""

from __future__ import annotations


class SimK8sError(Exception):
    """A problem with a clear cause; printed as `simk8s: <message>`."""

    exit_code = 1


class UsageError(SimK8sError):
    """Bad input: an argument, a check file, a results directory that is not one."""

    exit_code = 2


class OutputError(SimK8sError):
    """An output path simk8s may not replace, or cannot write."""

    exit_code = 2


class RunError(SimK8sError):
    """The simulation itself could not finish (a worker died, a variant failed)."""

    exit_code = 1


class Terminated(BaseException):  # named after the signal, like KeyboardInterrupt
    """SIGTERM arrived: unwinds like Ctrl-C so that temporary files are removed."""


__all__ = ["OutputError", "RunError", "SimK8sError", "Terminated", "UsageError"]
