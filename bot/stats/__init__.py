"""Counting contacts for the yearly report, without personal data.

``records``: one anonymous contact record per conversation (kept in step by
``bot.conversations``), plus the phone calls, e-mails and Q&A sessions staff log and
history imported from CSV; ``reports``: the year or any period in the shape of the
annual report; ``exports``: the same as CSV and XLSX.
"""
