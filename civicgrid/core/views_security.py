"""A person's own security page: the second factor (enrol, confirm, verify, disable)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from civicgrid.core import totp
from civicgrid.core.auth import do_log_out_everywhere
from civicgrid.core.errors import ActionRefused
from civicgrid.web.forms import add_errors


class CodeForm(forms.Form):
    code = forms.CharField(
        label=gettext_lazy("Code"),
        max_length=32,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "autofocus": True}),
    )


def _next(request) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return ""


def _verified(request) -> bool:
    state = request.session.get(totp.SESSION_KEY) or {}
    return state.get("user") == request.user.pk and state.get("state") == "verified"


@login_required
@never_cache
def security(request):
    device = totp.confirmed_device(request.user)
    context = {
        "device": device,
        "required": totp.enrolment_required(request.user),
        "recovery_left": totp.unused_recovery_codes(request.user) if device else 0,
        "form": CodeForm(),
    }
    return render(request, "core/security.html", context)


@login_required
@never_cache
def enrol(request):
    user = request.user
    if totp.confirmed_device(user) is not None:
        return redirect("totp_verify" if not _verified(request) else "security")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            codes = totp.do_confirm_totp(user, form.cleaned_data["code"], actor=user)
        except ValidationError as exc:
            add_errors(form, exc)
        else:
            totp.mark_verified(request)
            do_log_out_everywhere(user, keep_session_key=request.session.session_key)
            return render(request, "core/totp_codes.html", {"codes": codes, "next": _next(request)})
    secret = totp.pending_secret(user)
    if secret is None or (request.method == "GET" and request.GET.get("new") == "1"):
        totp.do_start_totp_enrolment(user, actor=user)
        secret = totp.pending_secret(user)
    uri = totp.otpauth_uri(secret, user.get_username())
    context = {
        "form": form,
        "secret": " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
        "uri": uri,
        "qr": totp.qr_svg_data_uri(uri),
        "required": totp.enrolment_required(user),
        "next": _next(request),
    }
    return render(request, "core/totp_enrol.html", context)


@login_required
@never_cache
def verify(request):
    if totp.confirmed_device(request.user) is None:
        return redirect(_next(request) or "home")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            how = totp.do_verify_totp(request.user, form.cleaned_data["code"])
        except ValidationError as exc:
            add_errors(form, exc)
        else:
            request.session.cycle_key()  # a new session id once both factors are proven
            totp.mark_verified(request)
            if how == "recovery":
                left = totp.unused_recovery_codes(request.user)
                messages.warning(
                    request,
                    _(
                        "You used a recovery code; %(n)d are left. "
                        "Make new ones on your security page."
                    )
                    % {"n": left},
                )
            return redirect(_next(request) or "home")
    return render(request, "core/totp_verify.html", {"form": form, "next": _next(request)})


@login_required
@never_cache
@require_POST
def disable(request):
    form = CodeForm(request.POST)
    if form.is_valid():
        try:
            totp.do_disable_totp(request.user, form.cleaned_data["code"], actor=request.user)
        except ActionRefused as exc:
            messages.error(request, str(exc))
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, _("The second factor is switched off."))
    else:
        messages.error(request, _("Enter a code from your app."))
    return redirect("security")


@login_required
@never_cache
@require_POST
def new_recovery_codes(request):
    form = CodeForm(request.POST)
    if form.is_valid():
        try:
            codes = totp.do_new_recovery_codes(
                request.user, form.cleaned_data["code"], actor=request.user
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            return render(request, "core/totp_codes.html", {"codes": codes, "next": ""})
    else:
        messages.error(request, _("Enter a code from your app."))
    return redirect("security")
