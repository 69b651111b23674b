"""The caseload's table rows, built in Python with format_html (which escapes every value).

A Django template spends about half a millisecond on each row of this table; the caseload shows
fifty at a time and is the page clinicians open most, so its rows are assembled here instead.
"""

from __future__ import annotations

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from alliance.alerts.models import Alert, Status
from alliance.measures.caseload import Change, Row

DASH = format_html('<span class="muted">{}</span>', "—")


def tbody(rows: list[Row]) -> SafeString:
    return format_html_join("\n", "{}", ((_row(r),) for r in rows))


def _row(r: Row) -> SafeString:
    return format_html(
        '<tr{}><th scope="row"><a href="/clients/{}/">{}</a><br>'
        '<span class="muted small">{}</span></th>'
        '<td data-label="Alerts">{}</td><td data-label="Scores">{}</td>'
        '<td data-label="Alliance">{}</td><td data-label="Phase">{}</td>'
        '<td data-label="Sessions">{}</td><td data-label="Last measured">{}</td>'
        '<td data-label="Next session">{}</td></tr>',
        format_html(' class="{}"', "needs-attention") if r.alerts else "",
        r.pk,
        r.name,
        r.record,
        _alerts(r.alerts),
        _scores(r.scores),
        r.alliance or DASH,
        format_html('<span class="phase phase-{}">{}</span>', r.phase, r.phase_label)
        if r.phase
        else format_html('<span class="muted">{}</span>', "No open episode"),
        r.sessions,
        r.last_measured or DASH,
        r.next_at or format_html('<span class="muted">{}</span>', "None booked"),
    )


def _alerts(alerts: list[Alert]) -> SafeString:
    if not alerts:
        return DASH
    return format_html_join(
        " ",
        '<a class="flag flag-{}" href="/alerts/{}/" title="{}">{}{}</a>',
        (
            (
                a.kind,
                a.pk,
                a.reason,
                a.get_kind_display(),
                " ✓" if a.status == Status.ACKNOWLEDGED else "",
            )
            for a in alerts
        ),
    )


def _scores(scores: list[Change]) -> SafeString:
    if not scores:
        return format_html('<span class="muted">{}</span>', "No scores yet")
    return format_html_join("", "<div>{}</div>", ((_score(s),) for s in scores))


def _score(s: Change) -> SafeString:
    change = ""
    if s.change is not None:
        verdict = (
            format_html(', <span class="verdict verdict-{}">{}</span>', s.verdict_class, s.verdict)
            if s.verdict
            else ""
        )
        change = format_html(" ({}{})", s.change_text, verdict)
    return format_html(
        '<strong>{} {}</strong> <span class="muted">{}</span>{}', s.name, s.latest, s.band, change
    )
