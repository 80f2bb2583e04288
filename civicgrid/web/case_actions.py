"""The forms behind the buttons on a case page: one per workflow action, each calling the one
action in ``cases.actions`` that the API calls too. No rule lives here."""

from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from civicgrid.cases import actions as A
from civicgrid.cases.models import Case, Category
from civicgrid.cases.selectors import access_case, suggested_departments
from civicgrid.people.models import Department
from civicgrid.regions.models import Grid

__all__ = ["ACTION_FORMS", "form_for", "perform"]

TEXT = forms.Textarea(attrs={"rows": 3})


class _Base(forms.Form):
    expected_version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, case: Case, user, **kwargs):
        self.case, self.user = case, user
        super().__init__(*args, **kwargs)
        self.fields["expected_version"].initial = case.version

    @property
    def version(self):
        return self.cleaned_data.get("expected_version")


def _leaf_categories():
    return Category.objects.filter(parent__isnull=False, active=True).order_by("code")


class ClassifyForm(_Base):
    category = forms.ModelChoiceField(_leaf_categories(), label=_("category"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].queryset = _leaf_categories()

    def run(self):
        return A.do_classify_case(
            self.case,
            actor=self.user,
            category=self.cleaned_data["category"],
            expected_version=self.version,
        )


class AcceptForm(ClassifyForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["category"]
        field.required = self.case.category_id is None
        field.initial = self.case.category_id

    def run(self):
        return A.do_accept_case(
            self.case,
            actor=self.user,
            category=self.cleaned_data["category"],
            expected_version=self.version,
        )


class LocateForm(_Base):
    grid = forms.ModelChoiceField(Grid.objects.none(), label=_("grid"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["grid"].queryset = Grid.objects.filter(
            code__startswith=self.case.unit_code, active=True
        ).exclude(kind=Grid.Kind.MICRO)

    def run(self):
        return A.do_locate_case(
            self.case,
            actor=self.user,
            grid=self.cleaned_data["grid"],
            expected_version=self.version,
        )


class ReasonForm(_Base):
    reason = forms.CharField(label=_("reason"), max_length=4000, widget=TEXT)
    call = None

    def run(self):
        return self.call(
            self.case,
            actor=self.user,
            reason=self.cleaned_data["reason"],
            expected_version=self.version,
        )


class RejectForm(ReasonForm):
    call = staticmethod(A.do_reject_case)


class EscalateForm(ReasonForm):
    call = staticmethod(A.do_escalate_case)


class SuspendForm(ReasonForm):
    call = staticmethod(A.do_suspend_case)


class FileForm(ReasonForm):
    call = staticmethod(A.do_file_case)


class MergeForm(_Base):
    into = forms.CharField(label=_("Merge into case (code)"), max_length=24)

    def run(self):
        into = access_case(self.user, self.cleaned_data["into"].strip())
        return A.do_merge_case(self.case, into=into, actor=self.user)


class DispatchForm(_Base):
    lead = forms.ModelChoiceField(Department.objects.none(), label=_("Lead department"))
    assisting = forms.ModelMultipleChoiceField(
        Department.objects.none(), label=_("Assisting departments"), required=False
    )
    text = forms.CharField(label=_("Note"), max_length=4000, widget=TEXT, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        town, county = self.case.region_code[:9], self.case.region_code[:6]
        choices = Department.objects.filter(active=True, region__code__in=[town, county]).order_by(
            "region__code", "code"
        )
        self.fields["lead"].queryset = choices
        self.fields["assisting"].queryset = choices
        suggested = suggested_departments(self.case)
        if suggested:
            self.fields["lead"].initial = suggested[0].pk
            self.fields["assisting"].initial = [d.pk for d in suggested[1:]]

    def run(self):
        return A.do_dispatch_case(
            self.case,
            actor=self.user,
            lead=self.cleaned_data["lead"],
            assisting=list(self.cleaned_data["assisting"]),
            text=self.cleaned_data["text"],
            expected_version=self.version,
        )


class TextForm(_Base):
    text = forms.CharField(label=_("Note"), max_length=4000, widget=TEXT, required=False)

    def run(self):
        return A.do_handle_case(
            self.case,
            actor=self.user,
            text=self.cleaned_data["text"],
            expected_version=self.version,
        )


class AssignDownForm(_Base):
    unit_code = forms.ChoiceField(label=_("Assign to"))
    text = forms.CharField(label=_("Note"), max_length=4000, widget=TEXT, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from civicgrid.regions.models import Region

        code = self.case.unit_code
        if len(code) == 12:
            units = Grid.objects.filter(village__code=code, active=True).exclude(
                kind=Grid.Kind.MICRO
            )
        else:
            units = Region.objects.filter(parent__code=code)
        self.fields["unit_code"].choices = [(u.code, f"{u.name} ({u.code})") for u in units]

    def run(self):
        return A.do_assign_case_down(
            self.case,
            actor=self.user,
            unit_code=self.cleaned_data["unit_code"],
            text=self.cleaned_data["text"],
            expected_version=self.version,
        )


class SignForm(_Base):
    def run(self):
        return A.do_sign_case(self.case, actor=self.user, expected_version=self.version)


class ResumeForm(_Base):
    def run(self):
        return A.do_resume_case(self.case, actor=self.user, expected_version=self.version)


class RequestReturnForm(_Base):
    reason = forms.ChoiceField(label=_("reason"), choices=A.RETURN_REASONS.items)
    text = forms.CharField(label=_("Explanation"), max_length=4000, widget=TEXT, required=False)

    def run(self):
        return A.do_request_return(
            self.case,
            actor=self.user,
            reason=self.cleaned_data["reason"],
            text=self.cleaned_data["text"],
            expected_version=self.version,
        )


class DecideReturnForm(_Base):
    text = forms.CharField(label=_("Note"), max_length=4000, widget=TEXT, required=False)
    approve = True

    def run(self):
        return A.do_decide_return(
            self.case,
            actor=self.user,
            approve=self.approve,
            text=self.cleaned_data["text"],
            expected_version=self.version,
        )


class RejectReturnForm(DecideReturnForm):
    approve = False


class FeedbackForm(_Base):
    text = forms.CharField(label=_("What was done"), max_length=4000, widget=TEXT)
    photo = forms.FileField(label=_("Evidence photo"), required=False)

    def run(self):
        photos = [self.cleaned_data["photo"]] if self.cleaned_data.get("photo") else []
        return A.do_feedback_case(
            self.case,
            actor=self.user,
            text=self.cleaned_data["text"],
            photos=photos,
            expected_version=self.version,
        )


class SelfCloseForm(_Base):
    text = forms.CharField(label=_("What was done"), max_length=4000, widget=TEXT)
    before = forms.FileField(label=_("Photo before"))
    after = forms.FileField(label=_("Photo after"))

    def run(self):
        return A.do_self_close_case(
            self.case,
            actor=self.user,
            text=self.cleaned_data["text"],
            before_photos=[self.cleaned_data["before"]],
            after_photos=[self.cleaned_data["after"]],
            expected_version=self.version,
        )


class ExtensionForm(_Base):
    days = forms.IntegerField(label=_("Working days"), min_value=1, max_value=A.MAX_EXTENSION_DAYS)
    reason = forms.CharField(label=_("reason"), max_length=4000, widget=TEXT)

    def run(self):
        return A.do_request_extension(
            self.case,
            actor=self.user,
            days=self.cleaned_data["days"],
            reason=self.cleaned_data["reason"],
        )


class DecideExtensionForm(_Base):
    approve = forms.TypedChoiceField(
        label=_("Decision"),
        choices=[("1", _("Approve")), ("0", _("Refuse"))],
        coerce=lambda v: v == "1",
    )
    text = forms.CharField(label=_("Note"), max_length=4000, widget=TEXT, required=False)

    def run(self):
        pending = self.case.extensions.filter(state="pending").order_by("requested_at").first()
        if pending is None:
            from django.core.exceptions import ValidationError

            raise ValidationError(_("There is no extension request to decide."))
        return A.do_decide_extension(
            pending,
            actor=self.user,
            approve=self.cleaned_data["approve"],
            text=self.cleaned_data["text"],
        )


class VerifyForm(_Base):
    text = forms.CharField(label=_("Note"), max_length=4000, widget=TEXT, required=False)
    passed = True

    def run(self):
        return A.do_verify_case(
            self.case,
            actor=self.user,
            passed=self.passed,
            text=self.cleaned_data["text"],
            expected_version=self.version,
        )


class VerifyFailForm(VerifyForm):
    text = forms.CharField(label=_("What is still wrong"), max_length=4000, widget=TEXT)
    passed = False


class EvaluateForm(_Base):
    satisfaction = forms.ChoiceField(
        label=_("Satisfaction"),
        choices=[
            ("satisfied", _("Satisfied")),
            ("basically_satisfied", _("Basically satisfied")),
            ("unsatisfied", _("Not satisfied")),
        ],
    )
    comment = forms.CharField(label=_("Comment"), max_length=4000, widget=TEXT, required=False)

    def run(self):
        return A.do_evaluate_case(
            self.case,
            actor=self.user,
            satisfaction=self.cleaned_data["satisfaction"],
            comment=self.cleaned_data["comment"],
            expected_version=self.version,
        )


class ReviewForm(_Base):
    text = forms.CharField(label=_("Conclusion"), max_length=4000, widget=TEXT)
    reopen = False

    def run(self):
        return A.do_review_case(
            self.case,
            actor=self.user,
            reopen=self.reopen,
            text=self.cleaned_data["text"],
            expected_version=self.version,
        )


class ReviewReopenForm(ReviewForm):
    reopen = True


class SuperviseForm(_Base):
    level = forms.TypedChoiceField(
        label=_("Level"),
        choices=[(1, _("Supervised")), (2, _("Yellow card")), (3, _("Red card"))],
        coerce=int,
    )
    reason = forms.CharField(label=_("reason"), max_length=4000, widget=TEXT)

    def run(self):
        return A.do_supervise_case(
            self.case,
            actor=self.user,
            level=self.cleaned_data["level"],
            reason=self.cleaned_data["reason"],
        )


class AnswerSupervisionForm(_Base):
    # The oldest unanswered sheet is chosen already: usually there is just one.
    supervision = forms.ModelChoiceField(None, label=_("Supervision"), empty_label=None)
    answer = forms.CharField(label=_("Answer"), max_length=4000, widget=TEXT)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["supervision"].queryset = self.case.supervisions.filter(
            answered_at__isnull=True
        ).order_by("issued_at")

    def run(self):
        return A.do_answer_supervision(
            self.cleaned_data["supervision"], actor=self.user, answer=self.cleaned_data["answer"]
        )


class InstructForm(_Base):
    text = forms.CharField(label=_("Instruction"), max_length=4000, widget=TEXT)
    required_actions = forms.CharField(
        label=_("Required actions"), max_length=4000, widget=TEXT, required=False
    )

    def run(self):
        return A.do_instruct_case(
            self.case,
            actor=self.user,
            text=self.cleaned_data["text"],
            required_actions=self.cleaned_data["required_actions"],
        )


class HardCaseForm(_Base):
    departments = forms.ModelMultipleChoiceField(
        Department.objects.none(), label=_("Departments"), required=False
    )
    text = forms.CharField(label=_("Note"), max_length=4000, widget=TEXT, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["departments"].queryset = Department.objects.filter(
            active=True, region__code__in=[self.case.region_code[:9], self.case.region_code[:6]]
        ).order_by("code")

    def run(self):
        return A.do_mark_hard_case(
            self.case,
            actor=self.user,
            leader=get_user_model().objects.get(pk=self.user.pk),
            departments=list(self.cleaned_data["departments"]),
            text=self.cleaned_data["text"],
        )


class JointMeetingForm(_Base):
    decisions = forms.CharField(label=_("Decisions"), max_length=4000, widget=TEXT)
    follow_ups = forms.CharField(
        label=_("Follow-ups"), max_length=4000, widget=TEXT, required=False
    )

    def run(self):
        return A.do_record_joint_meeting(
            self.case,
            actor=self.user,
            decisions=self.cleaned_data["decisions"],
            follow_ups=self.cleaned_data["follow_ups"],
        )


# action → form. "reopen" and "refer_review" are what an unsatisfied evaluation leads to, so
# they share the evaluation form.
ACTION_FORMS = {
    "classify": ClassifyForm,
    "locate": LocateForm,
    "accept": AcceptForm,
    "reject": RejectForm,
    "merge": MergeForm,
    "dispatch": DispatchForm,
    "handle": TextForm,
    "self_close": SelfCloseForm,
    "escalate": EscalateForm,
    "assign_down": AssignDownForm,
    "suspend": SuspendForm,
    "resume": ResumeForm,
    "file": FileForm,
    "sign": SignForm,
    "request_return": RequestReturnForm,
    "approve_return": DecideReturnForm,
    "reject_return": RejectReturnForm,
    "feedback": FeedbackForm,
    "request_extension": ExtensionForm,
    "decide_extension": DecideExtensionForm,
    "verify_pass": VerifyForm,
    "verify_fail": VerifyFailForm,
    "evaluate": EvaluateForm,
    "reopen": EvaluateForm,
    "refer_review": EvaluateForm,
    "review_archive": ReviewForm,
    "review_reopen": ReviewReopenForm,
    "supervise": SuperviseForm,
    "answer_supervision": AnswerSupervisionForm,
    "instruct": InstructForm,
    "hard_case": HardCaseForm,
    "joint_meeting": JointMeetingForm,
}


def form_for(action: str, case: Case, user, data=None, files=None):
    return ACTION_FORMS[action](data, files, case=case, user=user, prefix=action)


def perform(form):
    """Run the form's action; the caller turns refusals into messages."""
    return form.run()
