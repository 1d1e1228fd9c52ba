from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("dashboard", "0003_dca_v2"),
    ]

    operations = [
        migrations.AddField(
            model_name="cancelattempt",
            name="system",
            field=models.CharField(
                choices=[("v1", "Recurring v1"), ("v2", "DCA v2")], default="v1", max_length=2
            ),
        ),
    ]
