from django.db import migrations

# (key-group code, cadence, checklist): the visit rules shipped for the demo's key groups.
# 独居老人 weekly and 困境儿童 monthly as issue 6 says; the rest follow the key groups'
# "周走访" / "月走访" marks (people 0002). Counties change them in the admin.
SHIPPED_RULES = [
    ("elderly_alone", "weekly", ["身体状况", "饮食起居", "用电用气安全", "紧急联系人"]),
    ("children_in_difficulty", "monthly", ["监护落实", "就学情况", "生活保障", "身心健康"]),
    ("disabled", "monthly", ["生活状况", "康复需求", "补贴落实"]),
    ("low_income", "monthly", ["家庭收入变化", "生活困难", "救助落实"]),
    ("community_correction", "weekly", ["在位情况", "思想动态", "就业生活", "遵规情况"]),
    ("released_prisoner", "monthly", ["在位情况", "就业生活", "帮教落实"]),
    ("key_youth", "monthly", ["就学就业", "交往情况", "家庭监护"]),
    ("left_behind_child", "monthly", ["监护落实", "就学情况", "安全隐患"]),
    ("severe_mental_illness", "weekly", ["服药情况", "监护落实", "病情稳定", "肇事风险"]),
    ("petitioner", "monthly", ["诉求动态", "思想情绪", "化解进展"]),
]


def forwards(apps, schema_editor):
    KeyGroup = apps.get_model("people", "KeyGroup")
    VisitRule = apps.get_model("inspection", "VisitRule")
    groups = {g.code: g for g in KeyGroup.objects.all()}
    for code, cadence, checklist in SHIPPED_RULES:
        if code in groups:
            VisitRule.objects.get_or_create(
                key_group=groups[code],
                defaults={
                    "cadence": cadence,
                    "follows_working_days": True,
                    "responsible_role": "grid_worker",
                    "checklist": checklist,
                },
            )


class Migration(migrations.Migration):
    dependencies = [("inspection", "0001_initial"), ("people", "0002_key_groups")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
