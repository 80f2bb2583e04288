"""Tags that include the vendored browser libraries (see civicgrid/web/assets.py).

    {% load vendor %}
    {% vendor_css "leaflet" %}
    {% vendor_js "htmx.org" %} {% vendor_js "echarts" %} {% vendor_js "leaflet" %}

Any other file of a package is a plain static path: {% static 'vendor/leaflet/images/layers.png' %}.
"""

from django import template
from django.templatetags.static import static
from django.utils.html import format_html_join

from civicgrid.web.assets import package_named, static_path

register = template.Library()


def _package(name):
    try:
        return package_named(name)
    except KeyError:
        raise template.TemplateSyntaxError(f"no vendored package named {name!r}") from None


@register.simple_tag
def vendor_js(name):
    package = _package(name)
    return format_html_join(
        "\n",
        '<script src="{}"></script>',
        ((static(static_path(package, path)),) for path in package.scripts),
    )


@register.simple_tag
def vendor_css(name):
    package = _package(name)
    return format_html_join(
        "\n",
        '<link rel="stylesheet" href="{}">',
        ((static(static_path(package, path)),) for path in package.stylesheets),
    )
