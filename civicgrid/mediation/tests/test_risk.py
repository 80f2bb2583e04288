"""The risk rules, one table: each rule and the bands."""

from types import SimpleNamespace

import pytest

from civicgrid.mediation.rules import RISK_RULES, assess_risk


def d(**kw):
    base = dict(people_involved=2, amount=0, threats=False, petitions=0, scale="ordinary")
    return SimpleNamespace(**{**base, **kw})


@pytest.mark.parametrize(
    ("fields", "level", "reasons"),
    [
        ({}, "low", []),
        ({"people_involved": 10}, "medium", ["many_parties"]),
        ({"people_involved": 30}, "high", ["group"]),
        ({"amount": 99999.99}, "low", []),
        ({"amount": 100000}, "medium", ["large_amount"]),
        ({"amount": 1000000}, "high", ["very_large_amount"]),
        ({"threats": True}, "high", ["threats"]),
        ({"petitions": 1}, "low", []),
        ({"petitions": 2}, "medium", ["repeated_petitions"]),
        ({"petitions": 5}, "high", ["persistent_petitions"]),
        ({"scale": "large"}, "medium", ["large_scale"]),
        ({"people_involved": 12, "amount": 200000}, "high", ["many_parties", "large_amount"]),
    ],
)
def test_rules(fields, level, reasons):
    assert assess_risk(d(**fields)) == (level, reasons)


def test_every_rule_explains_itself():
    assert len({r.key for r in RISK_RULES}) == len(RISK_RULES)
    assert all(str(r.label) and str(r.why) and r.points > 0 for r in RISK_RULES)


@pytest.mark.django_db
def test_registration_stores_the_risk(med):
    dispute = med.register(people_involved=40, threats=True)
    assert dispute.risk_level == "high"
    assert dispute.risk_reasons == ["group", "threats"]
