"""`{% asset %}` gives what `{% static %}` gives, and follows a change of static settings."""

from __future__ import annotations

from django.template import engines
from django.templatetags.static import static
from django.test import override_settings

PAGE = "{% load assets %}<link href=\"{% asset 'alliance/alliance.css' %}\">"


def _render() -> str:
    return str(engines["django"].from_string(PAGE).render({}))


def test_it_gives_the_static_url():
    assert _render() == f'<link href="{static("alliance/alliance.css")}">'
    assert _render() == _render()


def test_it_follows_a_new_static_url():
    before = _render()
    with override_settings(STATIC_URL="/elsewhere/"):
        assert _render() == '<link href="/elsewhere/alliance/alliance.css">'
    assert _render() == before
