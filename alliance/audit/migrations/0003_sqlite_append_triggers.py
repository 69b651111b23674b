"""On SQLite, an entry goes in only right after its chain's head, and moves it (audit.guards)."""

from django.db import migrations

from alliance.audit import guards


def install(apps, schema_editor):
    guards.install_append(schema_editor.connection)


def remove(apps, schema_editor):
    guards.remove_append(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_append_only_triggers")]

    operations = [migrations.RunPython(install, remove)]
