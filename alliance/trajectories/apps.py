from django.apps import AppConfig


class TrajectoriesConfig(AppConfig):
    name = "alliance.trajectories"
    label = "trajectories"
    verbose_name = "Expected-recovery bands"
