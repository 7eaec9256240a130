from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from bot import db


def test_healthz_answers_while_the_process_is_up(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_is_ok_on_a_migrated_database(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "ok"


def test_readyz_is_503_when_migrations_are_behind(client: TestClient, engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'older'"))
    response = client.get("/readyz")
    assert response.status_code == 503
    assert "migration" in response.json()["detail"]
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": db.head_revision()})


def test_readyz_is_503_when_the_database_is_unreachable(settings) -> None:  # type: ignore[no-untyped-def]
    from bot.app import create_app

    unreachable = db.make_engine(
        "postgresql+psycopg://nobody@127.0.0.1:1/none", connect_args={"connect_timeout": 1}
    )
    with TestClient(create_app(settings, unreachable)) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    assert "unreachable" in response.json()["detail"]
