"""Per-request context that actions read without it being passed down every call."""

import contextvars

__all__ = ["client_ip_var", "current_client_ip", "current_request_id", "request_id_var"]

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")


def current_request_id() -> str:
    return request_id_var.get()


# The client's address, for the few events that record where an access came from (revealing
# personal data): set by RequestIdMiddleware from REMOTE_ADDR (the proxy's, behind one).
client_ip_var: contextvars.ContextVar[str] = contextvars.ContextVar("client_ip", default="")


def current_client_ip() -> str:
    return client_ip_var.get()
