"""Alliance's URLs plus the two baselines the benchmarks compare against."""

from __future__ import annotations

from django.urls import path

from alliance.urls import urlpatterns as alliance_urlpatterns
from bench.bare_views import bare_insert, caseload_baseline

urlpatterns = [
    *alliance_urlpatterns,
    path("bench/bare/", bare_insert, name="bench_bare"),
    path("bench/caseload-baseline/", caseload_baseline, name="bench_caseload_baseline"),
]
