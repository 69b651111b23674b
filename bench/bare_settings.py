"""Alliance's own settings plus the bench-only baseline views (see ``bench/bare_urls.py``).

Used only by the benchmarks, so the baseline runs behind the same middleware, database options
and server as the path it is compared with.
"""

from alliance.settings import *  # noqa: F403

ROOT_URLCONF = "bench.bare_urls"
