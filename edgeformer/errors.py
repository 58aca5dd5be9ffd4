"""Errors that the CLI turns into exit codes (library code raises, only the CLI exits)."""


class EdgeformerError(Exception):
    """Base class; exit code 1."""

    exit_code = 1


class UserError(EdgeformerError):
    """Bad input or a missing tool: one line naming the thing and the fix; exit code 2."""

    exit_code = 2


class DoesNotFit(EdgeformerError):
    """The model does not fit the budget or board; the message gives the bytes; exit code 3."""

    exit_code = 3


class OutputMismatch(EdgeformerError):
    """The C/firmware output disagrees with the onnxruntime reference: exit 1."""
