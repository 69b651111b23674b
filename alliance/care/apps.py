from django.apps import AppConfig


class CareConfig(AppConfig):
    name = "alliance.care"
    label = "care"
    verbose_name = "Whole-person care"
