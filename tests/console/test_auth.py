from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from bot.console.auth import MAX_FAILURES, hash_password
from bot.models import AuditEntry, StaffUser
from tests.support.factories import PASSWORD
from tests.support.staff import Staff, csrf_token, log_in, make_staff


def audit_actions(engine: Engine) -> list[str]:
    with Session(engine) as session:
        return [e.action for e in session.exec(select(AuditEntry).order_by(AuditEntry.id)).all()]


def test_the_console_asks_for_a_login_first(client: TestClient) -> None:
    response = client.get("/console/queue", headers={"accept": "text/html"}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/console/login")
    assert client.get("/console/queue/events").status_code == 401


def test_staff_log_in_and_see_the_queue(engine: Engine, app: FastAPI, client: TestClient) -> None:
    staff = make_staff(engine, app, "alice@example.org").login()
    page = staff.get("/console/queue")
    assert page.status_code == 200
    assert "alice" in page.text
    assert audit_actions(engine) == ["login"]


def test_session_cookie_is_signed_httponly_and_samesite(engine: Engine, app: FastAPI) -> None:
    make_staff(engine, app, "alice@example.org")
    with TestClient(app, headers={"accept-language": "en"}) as client:
        token = csrf_token(client)
        response = client.post(
            "/console/login",
            data={"email": "alice@example.org", "password": PASSWORD, "csrf_token": token},
            follow_redirects=False,
        )
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Path=/console" in cookie


def test_a_forged_session_cookie_is_not_a_login(engine: Engine, app: FastAPI) -> None:
    staff = make_staff(engine, app, "alice@example.org").login()
    value = staff.client.cookies["helpline_console"]
    staff.client.cookies.clear()
    staff.client.cookies.set("helpline_console", value, path="/console")
    assert staff.get("/console/queue").status_code == 200
    staff.client.cookies.clear()
    staff.client.cookies.set("helpline_console", value[:-2] + "xx", path="/console")
    assert staff.get("/console/queue").status_code == 303


def test_wrong_password_is_refused_and_audited(engine: Engine, app: FastAPI) -> None:
    make_staff(engine, app, "alice@example.org")
    with TestClient(app, headers={"accept-language": "en"}) as client:
        token = csrf_token(client)
        response = client.post(
            "/console/login",
            data={"email": "alice@example.org", "password": "wrong password!", "csrf_token": token},
        )
    assert response.status_code == 401
    assert "Wrong e-mail address or password" in response.text
    assert audit_actions(engine) == ["login_failed"]


def test_unknown_email_gets_the_same_answer_as_a_wrong_password(client: TestClient) -> None:
    client.headers["accept-language"] = "en"
    token = csrf_token(client)
    response = client.post(
        "/console/login",
        data={"email": "nobody@example.org", "password": "whatever it is", "csrf_token": token},
    )
    assert response.status_code == 401
    assert "Wrong e-mail address or password" in response.text


def test_repeated_failures_make_that_address_wait_even_for_the_right_password(
    engine: Engine, app: FastAPI
) -> None:
    # This used to lock the account itself ("locked for 15 minutes"), which anyone could
    # do to any staff member, and which told them the account exists: now the address
    # that failed waits, with the same answer as for an address without an account
    # (tests/security/test_login_throttle.py).
    make_staff(engine, app, "alice@example.org")
    with TestClient(app, headers={"accept-language": "en"}) as client:
        for _ in range(MAX_FAILURES):
            token = csrf_token(client)
            client.post(
                "/console/login",
                data={
                    "email": "alice@example.org",
                    "password": "not it at all",
                    "csrf_token": token,
                },
            )
        token = csrf_token(client)
        response = client.post(
            "/console/login",
            data={"email": "alice@example.org", "password": PASSWORD, "csrf_token": token},
            follow_redirects=False,
        )
    assert response.status_code == 429
    assert int(response.headers["retry-after"]) > 0
    assert "Too many login attempts. Wait a few minutes." in response.text
    assert "locked" not in response.text


def test_a_successful_login_resets_the_failure_count(engine: Engine, app: FastAPI) -> None:
    make_staff(engine, app, "alice@example.org")
    with TestClient(app, headers={"accept-language": "en"}) as client:
        for _ in range(2):  # the second round would be over the limit without the reset
            for _ in range(MAX_FAILURES - 1):
                token = csrf_token(client)
                client.post(
                    "/console/login",
                    data={
                        "email": "alice@example.org",
                        "password": "not it at all",
                        "csrf_token": token,
                    },
                )
            log_in(client, "alice@example.org")


def test_many_attempts_from_one_address_are_rate_limited(client: TestClient) -> None:
    statuses = []
    for n in range(25):
        token = csrf_token(client)
        response = client.post(
            "/console/login",
            data={"email": f"guess{n}@example.org", "password": "x" * 12, "csrf_token": token},
        )
        statuses.append(response.status_code)
    assert statuses[0] == 401
    assert statuses[-1] == 429


def test_login_without_the_csrf_token_is_refused(engine: Engine, app: FastAPI) -> None:
    make_staff(engine, app, "alice@example.org")
    with TestClient(app, headers={"accept-language": "en"}) as client:
        csrf_token(client)
        response = client.post(
            "/console/login", data={"email": "alice@example.org", "password": PASSWORD}
        )
    assert response.status_code == 403


def test_a_form_posted_from_another_site_is_refused(alice: Staff) -> None:
    token = csrf_token(alice.client, "/console/queue")
    response = alice.client.post(
        "/console/logout",
        data={"csrf_token": token},
        headers={"origin": "https://evil.example"},
        follow_redirects=False,
    )
    assert response.status_code == 403


def test_logout_ends_the_session_even_for_a_copied_cookie(alice: Staff) -> None:
    stolen = alice.client.cookies["helpline_console"]
    with TestClient(alice.client.app, headers={"accept": "text/html"}) as thief:
        thief.cookies.set("helpline_console", stolen, path="/console")
        assert thief.get("/console/queue", follow_redirects=False).status_code == 200
        assert alice.post("/console/logout").status_code == 303
        assert alice.get("/console/queue").status_code == 303
        assert thief.get("/console/queue", follow_redirects=False).status_code == 303


def test_a_deactivated_account_is_logged_out(engine: Engine, alice: Staff) -> None:
    with Session(engine) as session:
        user = session.get(StaffUser, alice.id)
        assert user is not None
        user.active = False
        session.commit()
    assert alice.get("/console/queue").status_code == 303


def test_only_admins_read_the_audit_log(alice: Staff, admin: Staff) -> None:
    assert alice.get("/console/audit").status_code == 403
    page = admin.get("/console/audit")
    assert page.status_code == 200
    assert "login" in page.text


def test_console_pages_carry_the_security_headers(alice: Staff) -> None:
    response = alice.get("/console/queue")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["cache-control"] == "no-store"
    assert "<script>" not in response.text  # no inline script anywhere
    assert 'src="/console/static/console.js' in response.text


def test_login_redirect_never_leaves_the_console(engine: Engine, app: FastAPI) -> None:
    make_staff(engine, app, "alice@example.org")
    with TestClient(app, headers={"accept-language": "en"}) as client:
        token = csrf_token(client)
        response = client.post(
            "/console/login",
            data={
                "email": "alice@example.org",
                "password": PASSWORD,
                "csrf_token": token,
                "next": "//evil.example/console/",
            },
            follow_redirects=False,
        )
    assert response.headers["location"] == "/console/queue"


def test_short_passwords_are_refused() -> None:
    import pytest

    with pytest.raises(ValueError):
        hash_password("short")
