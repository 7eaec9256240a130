"""Broadcasts: one message to many people, each in their language, when the facts change.

``audience`` picks who (filters, counts: nothing personal), ``sending`` stores,
queues and cancels, ``report`` says how it went. People opt out with STOP
(``flows/broadcasts_stop.yaml``) and back in with START (``broadcasts_start.yaml``).
"""
