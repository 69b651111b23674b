"""A goal's ratings, read the same way everywhere: first, latest and the change between."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class Rated(Protocol):
    @property
    def rating(self) -> int: ...


class RatingSpan:
    """Mixed into anything with `ratings`, oldest first."""

    ratings: Sequence[Rated]

    @property
    def first(self) -> int | None:
        return self.ratings[0].rating if self.ratings else None

    @property
    def latest(self) -> int | None:
        return self.ratings[-1].rating if self.ratings else None

    @property
    def change(self) -> int | None:
        if len(self.ratings) < 2:
            return None
        return self.ratings[-1].rating - self.ratings[0].rating
