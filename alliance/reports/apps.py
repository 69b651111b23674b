from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "alliance.reports"
    label = "reports"
    verbose_name = "Outcome reports"
