from django.db import migrations, models


def codes_of_refused_tokens(apps, schema_editor):
    """Attempts Jupiter refused for the session's token were marked by their upstream status."""
    CancelAttempt = apps.get_model("dashboard", "CancelAttempt")
    CancelAttempt.objects.filter(upstream_status="Unauthorized").update(code="disconnected")


class Migration(migrations.Migration):
    dependencies = [
        ("dashboard", "0004_cancel_attempt_system"),
    ]

    operations = [
        migrations.AddField(
            model_name="cancelattempt",
            name="code",
            field=models.CharField(blank=True, max_length=40),
        ),
        migrations.RunPython(codes_of_refused_tokens, migrations.RunPython.noop),
    ]
