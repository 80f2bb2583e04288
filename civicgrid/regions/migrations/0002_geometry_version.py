from django.db import migrations


def forwards(apps, schema_editor):
    apps.get_model("regions", "GeometryVersion").objects.get_or_create(pk=1)


class Migration(migrations.Migration):
    dependencies = [("regions", "0001_initial")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
