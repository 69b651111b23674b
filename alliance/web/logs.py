"""Log records never carry a client's link token (an error on /m/<token>/ names the path)."""

from __future__ import annotations

import logging
import re

LINK_PATH = re.compile(r"/m/[^/\s?]+")


def redact(text: str) -> str:
    """A client's link token opens their questions: it never goes into a log."""
    return LINK_PATH.sub("/m/[token]", text)


class RedactTokens(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = ()
        return True
