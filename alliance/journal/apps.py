from django.apps import AppConfig


class JournalConfig(AppConfig):
    name = "alliance.journal"
    label = "journal"
    verbose_name = "Clinician journal and wellbeing"
