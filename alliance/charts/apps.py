from django.apps import AppConfig


class ChartsConfig(AppConfig):
    name = "alliance.charts"
    label = "charts"
    verbose_name = "Client charts"
