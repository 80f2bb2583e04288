"""Per-request context that actions read without it being passed down every call."""

import contextvars

__all__ = ["current_request_id", "request_id_var"]

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")


def current_request_id() -> str:
    return request_id_var.get()
