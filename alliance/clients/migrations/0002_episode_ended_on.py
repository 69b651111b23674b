from django.db import migrations, models


def backfill(apps, schema_editor):
    """Closed episodes ended on their closing day; those in follow-up on their discharge."""
    Episode = apps.get_model("clients", "Episode")
    Episode.objects.filter(closed_on__isnull=False, ended_on__isnull=True).update(
        ended_on=models.F("closed_on")
    )
    PhaseChange = apps.get_model("agency", "PhaseChange")
    for change in PhaseChange.objects.filter(
        to_phase="follow_up", episode__ended_on__isnull=True
    ).order_by("at"):
        Episode.objects.filter(pk=change.episode_id).update(ended_on=change.at.date())


class Migration(migrations.Migration):
    dependencies = [
        ("clients", "0001_initial"),
        ("agency", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="episode",
            name="ended_on",
            field=models.DateField(blank=True, null=True),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
