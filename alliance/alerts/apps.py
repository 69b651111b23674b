from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "alliance.alerts"
    label = "alerts"
    verbose_name = "Alerts"
