"""Running the service: what an operator watches and what protects the process.

``observability`` (JSON logs, Prometheus ``/metrics``, request ids), ``health``
(``/healthz``, ``/readyz``), ``security`` (response headers, the request body cap,
validation errors without echoes), ``ratelimit`` (inbound floods, new web chats),
``malloc`` (keeping memory flat on glibc).
"""
