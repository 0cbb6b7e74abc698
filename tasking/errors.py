"""Errors of tasking commands, each with the HTTP status the API answers with."""

from __future__ import annotations

__all__ = ["Conflict", "NotFound", "TaskingError"]


class TaskingError(Exception):
    """A command that cannot be carried out; ``status`` is the HTTP status it maps to."""

    status = 400


class NotFound(TaskingError):
    status = 404


class Conflict(TaskingError):
    status = 409
