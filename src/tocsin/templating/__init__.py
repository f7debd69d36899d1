"""Go text/template for tocsin: Prometheus rule templates and Alertmanager messages.

A faithful Python implementation of Go's template language (actions, trim
markers, pipelines, variables, if/range/with/define/template/block, the
predefined functions, Go's fmt printing), plus the Prometheus and
Alertmanager function sets in `tocsin.templating.prometheus` and
`tocsin.templating.alertmanager`.
"""

from tocsin.templating.errors import TemplateError, TemplateExecError, TemplateParseError
from tocsin.templating.execute import SafeHTML, SafeURL
from tocsin.templating.funcs import GoFunc
from tocsin.templating.gofmt import NO_VALUE
from tocsin.templating.gotime import GoDuration, GoTime
from tocsin.templating.template import Template, TemplateSet

__all__ = [
    "NO_VALUE",
    "GoDuration",
    "GoFunc",
    "GoTime",
    "SafeHTML",
    "SafeURL",
    "Template",
    "TemplateError",
    "TemplateExecError",
    "TemplateParseError",
    "TemplateSet",
]
