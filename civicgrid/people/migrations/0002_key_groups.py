from django.db import migrations

# (code, name, visit rule, sensitive): the key groups named in the Yuyao report and common
# Zhejiang practice. Weekly/monthly rules follow "周走访" / "月走访".
KEY_GROUPS = [
    ("elderly_alone", "独居老人", "weekly", False),
    ("children_in_difficulty", "困境儿童", "weekly", False),
    ("disabled", "残疾人", "monthly", False),
    ("low_income", "低保", "monthly", False),
    ("community_correction", "社区矫正", "weekly", True),
    ("released_prisoner", "刑满释放", "monthly", True),
    ("key_youth", "重点青少年", "monthly", True),
    ("left_behind_child", "留守儿童", "monthly", False),
    ("severe_mental_illness", "严重精神障碍患者", "weekly", True),
    ("petitioner", "重点信访人员", "monthly", True),
]


def forwards(apps, schema_editor):
    KeyGroup = apps.get_model("people", "KeyGroup")
    for code, name, rule, sensitive in KEY_GROUPS:
        KeyGroup.objects.update_or_create(
            code=code, defaults={"name": name, "visit_rule": rule, "sensitive": sensitive}
        )


class Migration(migrations.Migration):
    dependencies = [("people", "0001_initial")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
