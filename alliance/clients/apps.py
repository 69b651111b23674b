from django.apps import AppConfig


class ClientsConfig(AppConfig):
    name = "alliance.clients"
    label = "clients"
    verbose_name = "Clients, care teams, episodes and encounters"
