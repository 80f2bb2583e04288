"""``{% oncall_panel case %}``: the summons panel on the case page (needs ``request``)."""

from django import template

from civicgrid.cases import workflow as case_workflow
from civicgrid.cases.actions import is_owner
from civicgrid.oncall import workflow
from civicgrid.oncall.selectors import offered_staff, summonses_of_case

register = template.Library()


@register.inclusion_tag("oncall/panel.html", takes_context=True)
def oncall_panel(context, case):
    request = context.get("request")
    user = getattr(request, "user", None)
    summonses = list(summonses_of_case(case))
    may_summon = bool(
        user is not None
        and user.is_authenticated
        and case.state in case_workflow.OPEN_STATES
        and case.grid_id is not None
        and is_owner(user, case)
    )
    return {
        "request": request,
        "csrf_token": context.get("csrf_token"),
        "case": case,
        "summonses": summonses,
        "may_summon": may_summon,
        "cancellable": {workflow.SENT, workflow.ACCEPTED},
        "busy": {s.department_id for s in summonses if s.state in workflow.OPEN_STATES},
        "offers": offered_staff(case) if may_summon else [],
    }
