"""Forms of the mediation pages: each action form calls exactly one action; no rule lives here."""

from __future__ import annotations

from datetime import datetime, time

from django import forms
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from civicgrid.mediation import actions as A
from civicgrid.mediation import workflow
from civicgrid.mediation.models import (
    DISPUTE_CATEGORIES,
    JudicialConfirmation,
    LegalChannel,
    MediationOrg,
    Mediator,
    Outcome,
    Party,
    RiskLevel,
    Route,
    Satisfaction,
    Scale,
    Source,
)
from civicgrid.people.models import Department

__all__ = ["ACTION_FORMS", "DisputeFilterForm", "RegisterForm", "StatisticsForm", "form_for"]

TEXT = forms.Textarea(attrs={"rows": 3})
DATE = forms.DateInput(attrs={"type": "date"})
DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
_BLANK = [("", "—")]


class RegisterForm(forms.Form):
    title = forms.CharField(label=_("title"), max_length=100)
    category = forms.ChoiceField(label=_("category"), choices=_BLANK + DISPUTE_CATEGORIES)
    source = forms.ChoiceField(label=_("source"), choices=Source.choices)
    description = forms.CharField(label=_("description"), widget=TEXT, max_length=4000)
    occurred_on = forms.DateField(label=_("occurred on"), required=False, widget=DATE)
    grid = forms.ModelChoiceField(None, label=_("grid"), required=False)
    address = forms.CharField(label=_("address"), max_length=200, required=False)
    lat = forms.FloatField(label=_("latitude"), required=False)
    lng = forms.FloatField(label=_("longitude"), required=False)
    amount = forms.DecimalField(
        label=_("amount at stake (yuan)"), min_value=0, max_digits=14, decimal_places=2, initial=0
    )
    people_involved = forms.IntegerField(label=_("people involved"), min_value=0, initial=2)
    scale = forms.ChoiceField(label=_("scale"), choices=Scale.choices)
    threats = forms.BooleanField(label=_("threats of violence or extreme acts"), required=False)
    petitions = forms.IntegerField(
        label=_("petitions already made"), min_value=0, max_value=1000, initial=0
    )
    case_code = forms.CharField(label=_("from case (code)"), max_length=24, required=False)
    applicant_kind = forms.ChoiceField(label=_("applicant: kind"), choices=Party.Kind.choices)
    applicant_name = forms.CharField(label=_("applicant: name"), max_length=100)
    applicant_id = forms.CharField(label=_("applicant: ID number"), max_length=18, required=False)
    applicant_phone = forms.CharField(label=_("applicant: phone"), max_length=20, required=False)
    respondent_kind = forms.ChoiceField(label=_("respondent: kind"), choices=Party.Kind.choices)
    respondent_name = forms.CharField(label=_("respondent: name"), max_length=100)
    respondent_id = forms.CharField(label=_("respondent: ID number"), max_length=18, required=False)
    respondent_phone = forms.CharField(label=_("respondent: phone"), max_length=20, required=False)
    respondent_credit_code = forms.CharField(
        label=_("respondent: unified social credit code"), max_length=18, required=False
    )

    def __init__(self, *args, grids, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["grid"].queryset = grids

    def parties(self) -> list[dict]:
        data = self.cleaned_data
        return [
            {
                "role": role,
                "kind": data[f"{role}_kind"],
                "name": data[f"{role}_name"],
                "id_number": data.get(f"{role}_id") or "",
                "phone": data.get(f"{role}_phone") or "",
                "credit_code": data.get(f"{role}_credit_code") or "",
            }
            for role in ("applicant", "respondent")
        ]


class DisputeFilterForm(forms.Form):
    q = forms.CharField(label=_("code or title"), required=False, max_length=50)
    state = forms.ChoiceField(
        label=_("state"), required=False, choices=_BLANK + list(workflow.STATE_LABELS.items())
    )
    category = forms.ChoiceField(
        label=_("category"), required=False, choices=_BLANK + DISPUTE_CATEGORIES
    )
    risk = forms.ChoiceField(
        label=_("risk level"), required=False, choices=_BLANK + RiskLevel.choices
    )
    overdue = forms.BooleanField(label=_("overdue only"), required=False)


class StatisticsForm(forms.Form):
    start = forms.DateField(label=_("start date"), required=False, widget=DATE)
    end = forms.DateField(label=_("end date"), required=False, widget=DATE)

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["start"] > data["end"]:
            raise forms.ValidationError(_("The period ends before it starts."))
        return data


# --------------------------------------------------------------------------- action forms


class _Base(forms.Form):
    expected_version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, dispute, user, **kwargs):
        self.dispute, self.user = dispute, user
        super().__init__(*args, **kwargs)
        self.fields["expected_version"].initial = dispute.version

    @property
    def version(self):
        return self.cleaned_data.get("expected_version")


class RouteForm(_Base):
    route = forms.ChoiceField(
        label=_("route"), choices=[(k, v) for k, v in Route.choices if k != Route.LEGAL]
    )
    org = forms.ModelChoiceField(
        MediationOrg.objects.none(),
        label=_("organisation (empty: chosen by category and load)"),
        required=False,
    )
    department = forms.ModelChoiceField(
        Department.objects.none(), label=_("department"), required=False
    )
    mediator = forms.ModelChoiceField(
        Mediator.objects.none(), label=_("mediator (empty: the least loaded)"), required=False
    )
    note = forms.CharField(label=_("note"), widget=TEXT, required=False, max_length=4000)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        code = self.dispute.region_code
        prefixes = [code[:n] for n in (6, 9, 12, 15) if n <= len(code)]
        orgs = MediationOrg.objects.filter(active=True, region_code__in=prefixes)
        self.fields["org"].queryset = orgs
        self.fields["mediator"].queryset = Mediator.objects.filter(org__in=orgs, active=True)
        self.fields["department"].queryset = Department.objects.filter(
            active=True, region__code__in=prefixes
        )

    def perform(self):
        data = self.cleaned_data
        org = data.get("org")
        mediator = data.get("mediator")
        if mediator is not None and org is None:
            org = mediator.org
        return A.do_route_dispute(
            self.dispute,
            actor=self.user,
            route=data["route"],
            org=org,
            department=data.get("department"),
            mediators=[mediator] if mediator else [],
            note=data["note"],
            expected_version=self.version,
        )


class ReferForm(_Base):
    channel = forms.ChoiceField(label=_("legal channel"), choices=LegalChannel.choices)
    receiving_unit = forms.CharField(label=_("receiving unit"), max_length=100)
    note = forms.CharField(label=_("note"), widget=TEXT, required=False, max_length=4000)

    def perform(self):
        d = self.cleaned_data
        return A.do_refer_dispute(
            self.dispute,
            actor=self.user,
            channel=d["channel"],
            receiving_unit=d["receiving_unit"],
            note=d["note"],
            expected_version=self.version,
        )


class SessionForm(_Base):
    held_at = forms.DateTimeField(label=_("held at"), widget=DATETIME)
    place = forms.CharField(label=_("venue"), max_length=100)
    attendees = forms.CharField(label=_("attendees"), widget=TEXT, required=False, max_length=4000)
    notes = forms.CharField(label=_("session record"), widget=TEXT, required=False, max_length=4000)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["held_at"].initial = timezone.localtime().replace(second=0, microsecond=0)

    def perform(self):
        d = self.cleaned_data
        return A.do_record_session(
            self.dispute,
            actor=self.user,
            held_at=d["held_at"],
            place=d["place"],
            attendees=d["attendees"],
            notes=d["notes"],
            expected_version=self.version,
        )


class ExtendForm(_Base):
    days = forms.IntegerField(label=_("days"), min_value=1, max_value=30)
    reason = forms.CharField(label=_("reason (the parties agree)"), widget=TEXT, max_length=500)

    def perform(self):
        d = self.cleaned_data
        return A.do_extend_dispute(
            self.dispute,
            actor=self.user,
            days=d["days"],
            reason=d["reason"],
            expected_version=self.version,
        )


class AgreeForm(_Base):
    terms = forms.CharField(
        label=_("terms of the agreement (one per line)"),
        widget=forms.Textarea(attrs={"rows": 5}),
        max_length=20000,
    )
    amount = forms.DecimalField(
        label=_("amount agreed (yuan)"), min_value=0, max_digits=14, decimal_places=2, initial=0
    )
    perform_by = forms.DateField(label=_("to be performed by"), required=False, widget=DATE)
    note = forms.CharField(label=_("note"), widget=TEXT, required=False, max_length=4000)

    def perform(self):
        d = self.cleaned_data
        return A.do_conclude_dispute(
            self.dispute,
            actor=self.user,
            outcome=Outcome.AGREEMENT,
            terms=d["terms"],
            amount=d["amount"],
            perform_by=d["perform_by"],
            note=d["note"],
            expected_version=self.version,
        )


class _OutcomeForm(_Base):
    outcome = ""
    note = forms.CharField(label=_("reason"), widget=TEXT, max_length=4000)

    def perform(self):
        return A.do_conclude_dispute(
            self.dispute,
            actor=self.user,
            outcome=self.outcome,
            note=self.cleaned_data["note"],
            expected_version=self.version,
        )


class FailForm(_OutcomeForm):
    outcome = Outcome.FAILED


class TerminateForm(_OutcomeForm):
    outcome = Outcome.TERMINATED


class WithdrawForm(_OutcomeForm):
    outcome = Outcome.WITHDRAWN


class ApplyConfirmationForm(_Base):
    court = forms.CharField(label=_("court"), max_length=100)
    applied_on = forms.DateField(label=_("applied on"), required=False, widget=DATE)

    def perform(self):
        d = self.cleaned_data
        return A.do_apply_confirmation(
            self.dispute,
            actor=self.user,
            court=d["court"],
            applied_on=d["applied_on"],
            expected_version=self.version,
        )


class ConfirmationResultForm(_Base):
    result = forms.ChoiceField(
        label=_("result"),
        choices=[(k, v) for k, v in JudicialConfirmation.Result.choices if k != "pending"],
    )
    note = forms.CharField(label=_("note"), required=False, max_length=200)

    def perform(self):
        d = self.cleaned_data
        return A.do_record_confirmation_result(
            self.dispute,
            actor=self.user,
            result=d["result"],
            note=d["note"],
            expected_version=self.version,
        )


class _PerformanceForm(_Base):
    kind = ""
    amount_paid = forms.DecimalField(
        label=_("amount paid (yuan)"), min_value=0, max_digits=14, decimal_places=2, initial=0
    )
    note = forms.CharField(label=_("note"), widget=TEXT, required=False, max_length=500)

    def perform(self):
        d = self.cleaned_data
        return A.do_record_performance(
            self.dispute,
            actor=self.user,
            kind=self.kind,
            amount_paid=d["amount_paid"],
            note=d["note"],
            expected_version=self.version,
        )


class PerformPartForm(_PerformanceForm):
    kind = "part"


class PerformDoneForm(_PerformanceForm):
    kind = "done"


class BreachForm(_PerformanceForm):
    kind = "breach"


class HandoffResultForm(_Base):
    resolved = forms.BooleanField(label=_("resolved there"), required=False)
    result = forms.CharField(label=_("result"), widget=TEXT, max_length=4000)

    def perform(self):
        d = self.cleaned_data
        return A.do_record_handoff_result(
            self.dispute,
            actor=self.user,
            resolved=d["resolved"],
            result=d["result"],
            expected_version=self.version,
        )


class FollowUpForm(_Base):
    satisfaction = forms.ChoiceField(label=_("satisfaction"), choices=Satisfaction.choices)
    note = forms.CharField(label=_("note"), widget=TEXT, required=False, max_length=4000)

    def perform(self):
        d = self.cleaned_data
        return A.do_follow_up(
            self.dispute,
            actor=self.user,
            satisfaction=d["satisfaction"],
            note=d["note"],
            expected_version=self.version,
        )


class CloseForm(_Base):
    note = forms.CharField(label=_("note"), widget=TEXT, required=False, max_length=4000)

    def perform(self):
        return A.do_close_dispute(
            self.dispute,
            actor=self.user,
            note=self.cleaned_data["note"],
            expected_version=self.version,
        )


ACTION_FORMS = {
    "route": RouteForm,
    "reroute": RouteForm,
    "refer": ReferForm,
    "session": SessionForm,
    "extend": ExtendForm,
    "agree": AgreeForm,
    "fail": FailForm,
    "terminate": TerminateForm,
    "withdraw": WithdrawForm,
    "apply_confirmation": ApplyConfirmationForm,
    "confirmation_result": ConfirmationResultForm,
    "perform_part": PerformPartForm,
    "perform_done": PerformDoneForm,
    "breach": BreachForm,
    "handoff_result": HandoffResultForm,
    "follow_up": FollowUpForm,
    "close": CloseForm,
}
assert set(ACTION_FORMS) == set(workflow.ACTION_LABELS) - {"register"}


def form_for(action: str, dispute, user, data=None):
    return ACTION_FORMS[action](data, dispute=dispute, user=user, prefix=action)


def local_day_start(day) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())


# --------------------------------------------------------------------------- logs


class VisitForm(forms.Form):
    name = forms.CharField(label=_("visitor's name"), max_length=50)
    phone = forms.CharField(label=_("phone"), max_length=20, required=False)
    visitors = forms.IntegerField(label=_("number of visitors"), min_value=1, initial=1)
    about = forms.CharField(label=_("what about"), widget=TEXT, max_length=4000)
    outcome = forms.ChoiceField(label=_("visit outcome"), choices=[])
    dispute_code = forms.CharField(label=_("dispute code"), max_length=32, required=False)

    def __init__(self, *args, **kwargs):
        from civicgrid.mediation.models import VisitorLog

        super().__init__(*args, **kwargs)
        self.fields["outcome"].choices = [
            c for c in VisitorLog.Outcome.choices if c[0] != VisitorLog.Outcome.CASE
        ]


class CallForm(forms.Form):
    caller = forms.CharField(label=_("caller"), max_length=50, required=False)
    phone = forms.CharField(label=_("phone"), max_length=20, required=False)
    category = forms.ChoiceField(label=_("category"), choices=[])
    summary = forms.CharField(label=_("summary"), widget=TEXT, max_length=4000)
    answer = forms.CharField(
        label=_("answer given (empty: to be transferred)"),
        widget=TEXT,
        required=False,
        max_length=4000,
    )

    def __init__(self, *args, **kwargs):
        from civicgrid.mediation.models import CallLog

        super().__init__(*args, **kwargs)
        self.fields["category"].choices = CallLog.Category.choices


class CallStepForm(forms.Form):
    """One field per step; the view reads the one its step needs."""

    text = forms.CharField(label=_("text"), widget=TEXT, required=False, max_length=4000)
    days = forms.IntegerField(label=_("days"), required=False, min_value=1, max_value=15)
    satisfaction = forms.ChoiceField(
        label=_("satisfaction"), required=False, choices=_BLANK + Satisfaction.choices
    )


# --------------------------------------------------------------------------- activities, registry


class ActivityForm(forms.Form):
    org = forms.ModelChoiceField(MediationOrg.objects.none(), label=_("organisation"))
    mediator = forms.ModelChoiceField(Mediator.objects.none(), label=_("mediator"), required=False)
    kind = forms.ChoiceField(label=_("kind"), choices=[])
    day = forms.DateField(label=_("day"), widget=DATE)
    people_reached = forms.IntegerField(
        label=_("people helped"), min_value=0, max_value=100000, initial=1
    )
    note = forms.CharField(label=_("note"), widget=TEXT, required=False, max_length=500)

    def __init__(self, *args, orgs, mediators, **kwargs):
        from civicgrid.mediation.models import Activity

        super().__init__(*args, **kwargs)
        self.fields["org"].queryset = orgs
        self.fields["mediator"].queryset = mediators
        self.fields["kind"].choices = Activity.Kind.choices
        self.fields["day"].initial = timezone.localdate()


_CATEGORY_CHOICES = [
    (code, format_lazy("{} {}", code, label)) for code, label in DISPUTE_CATEGORIES
]


class OrgForm(forms.Form):
    code = forms.CharField(label=_("code"), max_length=32)
    name = forms.CharField(label=_("name"), max_length=100)
    kind = forms.ChoiceField(label=_("kind"), choices=MediationOrg.Kind.choices)
    region_code = forms.CharField(label=_("area served (region code)"), max_length=18)
    specialities = forms.MultipleChoiceField(
        label=_("dispute categories (none: all)"),
        choices=_CATEGORY_CHOICES,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    capacity = forms.IntegerField(
        label=_("capacity (open disputes)"), min_value=1, max_value=10000, initial=20
    )
    active = forms.BooleanField(label=_("active"), required=False, initial=True)

    def __init__(self, *args, editing=False, **kwargs):
        super().__init__(*args, **kwargs)
        if editing:
            self.fields["code"].disabled = True


class MediatorForm(forms.Form):
    org = forms.ModelChoiceField(MediationOrg.objects.none(), label=_("organisation"))
    name = forms.CharField(label=_("name"), max_length=50)
    kind = forms.ChoiceField(label=_("kind"), choices=Mediator.Kind.choices)
    region_code = forms.CharField(
        label=_("area (region code; empty: the organisation's)"), max_length=18, required=False
    )
    specialities = forms.MultipleChoiceField(
        label=_("dispute categories (none: all)"),
        choices=_CATEGORY_CHOICES,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    username = forms.CharField(label=_("login account (user name)"), max_length=150, required=False)
    active = forms.BooleanField(label=_("active"), required=False, initial=True)

    def __init__(self, *args, orgs, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["org"].queryset = orgs

    def clean_username(self):
        from django.contrib.auth import get_user_model

        name = self.cleaned_data["username"].strip()
        if not name:
            return None
        user = get_user_model().objects.filter(username=name).first()
        if user is None:
            raise forms.ValidationError(_("No login has this user name."))
        return user
