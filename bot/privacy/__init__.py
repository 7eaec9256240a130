"""Keeping as little as possible about people, protected, for as short as possible.

``addresses``: phone numbers and chat ids encrypted at rest, found by keyed hash,
masked for staff; ``retention``: message texts deleted after the retention period;
``erasure``: "delete my data" and ``helpline contact erase``; ``export``: everything
kept about one person, for an access request.
"""
