"""The site's routes as the URL resolver knows them, with the methods each view accepts.

Shared by the CSRF and header tests, so that a route added tomorrow is checked by both
without anyone listing it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver, reverse

from conftest import World

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
UNSAFE = ("POST", "PUT", "PATCH", "DELETE")


@dataclass(frozen=True)
class Route:
    name: str
    converters: dict[str, str]  # keyword -> converter ("int", "string", ...)
    methods: tuple[str, ...]  # of METHODS, those its view accepts
    view: Callable[..., Any]

    @property
    def unsafe(self) -> tuple[str, ...]:
        return tuple(m for m in self.methods if m in UNSAFE)

    def url(self, world: World) -> str:
        """The route for the world's own client; ids of unknown kinds are 1 (a 404 at worst)."""
        known = {
            "client_id": world.own_client.pk,
            "episode_id": world.own_episode.pk,
            "encounter_id": world.own_encounter.pk,
            "alert_id": world.own_alert.pk,
            "member_id": world.own_client.care_team.order_by("pk").values_list("pk", flat=True)[0],
            "membership_id": world.colleague.pk,
        }
        kwargs = {
            key: known.get(key, 1 if kind == "int" else "x" * 43)
            for key, kind in self.converters.items()
        }
        return reverse(self.name, kwargs=kwargs)


def accepted_methods(view: Callable[..., Any]) -> tuple[str, ...]:
    """What require_http_methods (or a class view) lets through; every method if none is named."""
    cls = getattr(view, "view_class", None)
    if cls is not None:
        return tuple(m for m in METHODS if m.lower() in cls.http_method_names)
    seen: Callable[..., Any] | None = view
    while seen is not None:
        names = getattr(getattr(seen, "__code__", None), "co_freevars", ())
        if "request_method_list" in names and seen.__closure__:
            allowed = seen.__closure__[names.index("request_method_list")].cell_contents
            return tuple(m for m in METHODS if m in allowed)
        seen = getattr(seen, "__wrapped__", None)
    return METHODS


def _walk(
    patterns: list[URLPattern | URLResolver], namespace: str, converters: dict[str, str]
) -> Iterator[Route]:
    for p in patterns:
        found = dict(converters)
        for key in p.pattern.regex.groupindex:
            kind = getattr(p.pattern, "converters", {}).get(key)
            found[key] = type(kind).__name__.replace("Converter", "").lower() if kind else "str"
        if isinstance(p, URLResolver):
            if str(p.pattern).startswith("api/"):
                continue  # the API is enumerated from its OpenAPI schema
            inner = f"{namespace}{p.namespace}:" if p.namespace else namespace
            yield from _walk(p.url_patterns, inner, found)
        elif p.name:
            yield Route(namespace + p.name, found, accepted_methods(p.callback), p.callback)


def site_routes() -> list[Route]:
    return sorted(_walk(get_resolver().url_patterns, "", {}), key=lambda r: r.name)
