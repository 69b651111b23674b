"""Sessions moved to accounts.SignInSession (0006): the rows of Django's own table are never
read again, so they are deleted rather than left to hold signed-in data."""

from django.db import migrations


def forget(apps, schema_editor):
    apps.get_model("sessions", "Session").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("accounts", "0006_sign_in_sessions"), ("sessions", "0001_initial")]

    operations = [migrations.RunPython(forget, migrations.RunPython.noop)]
