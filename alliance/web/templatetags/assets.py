"""`{% asset 'path' %}`: a static file's URL, as `{% static %}` gives it, worked out once.

A collected file's URL does not change while the process runs, yet `{% static %}` asks the
storage every time, which cost as much as the rest of the client's small thank-you page."""

from __future__ import annotations

from functools import cache
from typing import Any

from django import template
from django.core.signals import setting_changed
from django.templatetags.static import static

register = template.Library()


@cache
def _url(path: str) -> str:
    return static(path)


@register.simple_tag
def asset(path: str) -> str:
    return _url(path)


def _forget(*, setting: str, **_: Any) -> None:
    """A test that changes where static files live gets the URLs worked out anew."""
    if setting in {"STATIC_URL", "STATIC_ROOT", "STORAGES"}:
        _url.cache_clear()


setting_changed.connect(_forget)
