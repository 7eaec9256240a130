"""The knowledge base as staff own it: in the database, edited in the console.

``store`` keeps every version of every topic (``KbRevision``: the topic's whole YAML,
as in ``knowledge/<id>.yaml``), imports and exports ``knowledge/``, saves drafts,
publishes (raising ``KbState.version``), reverts, and marks translations reviewed.
``live`` holds, in each process, the published knowledge base the bot says and the
matcher trained on it, and follows every publish within seconds. ``yamltext`` writes a
topic back as YAML when staff changed it. The files in
``knowledge/`` stay the way a team keeps the knowledge base in git: ``helpline kb
import`` and ``helpline kb export`` move it between the two, and the bot reads the
folder whenever the database has nothing published (``helpline match`` and ``helpline
eval`` on a fresh checkout).
"""
