"""The server killed with SIGKILL mid-load and restarted: nothing acknowledged is lost.

A small run of ``bench/sigkill.py`` (which see): real ``helpline serve`` processes,
real SQLite, the fake providers in this process counting every send by message id.
"""

from __future__ import annotations

from bench import sigkill


def test_a_sigkill_mid_load_loses_no_acknowledged_message_and_sends_no_reply_twice() -> None:
    result = sigkill.run(n=40, concurrency=8, kills=1, database_url=None, drain_timeout=60)

    assert result["kills"] == 1
    assert result["acknowledged_2xx"] == result["messages"]  # retried until all were taken
    assert result["lost_inbound"] == 0
    assert result["duplicated_inbound"] == 0
    assert result["unanswered"] == 0
    assert result["outbound_not_sent"] == 0
    assert result["sent_but_unknown_to_provider"] == 0
    assert result["unexplained_sends"] == 0
    # A reply the provider accepted in the instant before the kill, whose "sent" was
    # never written: Twilio is asked and the reply is not sent again; the Telegram Bot
    # API cannot be asked, so it goes out again. Nothing else may double.
    assert result["duplicated_deliveries_whatsapp"] == 0
    assert result["duplicated_deliveries_telegram"] == result["telegram_in_flight_at_kill"]
