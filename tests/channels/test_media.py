"""Media that people send, fetched for staff through the channels: never from elsewhere."""

from __future__ import annotations

import pytest

from bot.channels import Channels, SendError
from bot.channels.whatsapp import WhatsAppChannel

# A fixture: this module's ``settings``, with both providers pointed at their fakes.
from tests.support.channels import settings_with_fake_providers  # noqa: F401
from tests.support.fakes.telegram_api import FakeTelegramAPI
from tests.support.fakes.twilio_api import ACCOUNT_SID, FakeTwilioAPI


async def test_staff_can_fetch_a_telegram_voice_note(
    channels: Channels, fake_telegram: FakeTelegramAPI
) -> None:
    fake_telegram.add_file("AwACAgQAAxkBAAIBq2V0voice", b"OggS-voice", "voice/file_12.oga")
    channel = channels["telegram"]

    data, content_type = await channel.fetch_media("AwACAgQAAxkBAAIBq2V0voice")

    assert (data, content_type) == (b"OggS-voice", "audio/ogg")


async def test_staff_can_fetch_a_whatsapp_image_through_the_configured_api(
    channels: Channels, fake_twilio: FakeTwilioAPI
) -> None:
    path = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/MM1/Media/ME1"
    media_url = fake_twilio.add_media(path, b"\xff\xd8jpeg", "image/jpeg")

    data, content_type = await channels["whatsapp"].fetch_media(media_url)

    assert (data, content_type) == (b"\xff\xd8jpeg", "image/jpeg")


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data",
        "https://evil.example/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1",
        "https://api.twilio.com/../../etc/passwd",
    ],
)
async def test_a_media_reference_outside_twilio_is_never_fetched(
    channels: Channels, fake_twilio: FakeTwilioAPI, url: str
) -> None:
    channel = channels["whatsapp"]
    assert isinstance(channel, WhatsAppChannel)

    with pytest.raises(SendError) as raised:
        await channel.fetch_media(url)

    assert raised.value.permanent
    assert not [r for r in fake_twilio.requests if r.method == "GET"]


OTHER_ACCOUNT = "AC" + "9" * 32
OTHERS_MEDIA = f"/2010-04-01/Accounts/{OTHER_ACCOUNT}/Messages/MM9/Media/ME9"


@pytest.mark.parametrize(
    "path",
    [
        f"/2010-04-01/Accounts/{ACCOUNT_SID}/../{OTHER_ACCOUNT}/Messages/MM9/Media/ME9",
        f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/../../{OTHER_ACCOUNT}/Messages/MM9/Media/ME9",
        f"/2010-04-01/Accounts/{ACCOUNT_SID}/%2e%2e/{OTHER_ACCOUNT}/Messages/MM9/Media/ME9",
        f"/2010-04-01/Accounts/{ACCOUNT_SID}/%2E%2e/{OTHER_ACCOUNT}/Messages/MM9/Media/ME9",
        f"/2010-04-01/Accounts/{ACCOUNT_SID}/.%2e/{OTHER_ACCOUNT}/Messages/MM9/Media/ME9",
        f"/2010-04-01/Accounts/{ACCOUNT_SID}/%252e%252e/{OTHER_ACCOUNT}/Messages/MM9/Media/ME9",
        f"/2010-04-01/Accounts/{ACCOUNT_SID}/..%2f{OTHER_ACCOUNT}/Messages/MM9/Media/ME9",
        f"/2010-04-01/Accounts/{ACCOUNT_SID}0/Messages/MM9/Media/ME9",
        OTHERS_MEDIA,
    ],
    ids=[
        "dot-dot",
        "dot-dot-deeper",
        "encoded",
        "encoded-mixed-case",
        "half-encoded",
        "double-encoded",
        "encoded-slash",
        "longer-account-id",
        "another-account",
    ],
)
async def test_a_media_reference_that_leaves_the_account_is_never_fetched(
    channels: Channels, fake_twilio: FakeTwilioAPI, path: str
) -> None:
    fake_twilio.add_media(OTHERS_MEDIA, b"someone else's", "image/jpeg")
    channel = channels["whatsapp"]
    assert isinstance(channel, WhatsAppChannel)

    with pytest.raises(SendError) as raised:
        await channel.fetch_media("https://api.twilio.com" + path)

    assert raised.value.permanent
    assert not [r for r in fake_twilio.requests if r.method == "GET"]
