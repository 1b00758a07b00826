# SPDX-License-Identifier: LGPL-2.1-or-later
"""Parse the Prometheus text exposition format on standard input with the
official Python client's parser (Debian's python3-prometheus-client: run it
with /usr/bin/python3), and print the families as JSON:

  {"families": [{"name", "type", "documentation",
                 "samples": [{"name", "labels", "value"}]}]}

Exit status 0, or 1 with the parser's error on standard error. Used by the
metrics tests (tests/client/test_metrics.py, tests/integration/test_metrics.py)."""

import json
import sys

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError as e:
    print("prom_parse.py: no prometheus_client for %s (install python3-prometheus-client): %s"
          % (sys.executable, e), file=sys.stderr)
    sys.exit(2)

text = sys.stdin.read()
try:
    families = []
    for f in text_string_to_metric_families(text):
        families.append({"name": f.name, "type": f.type, "documentation": f.documentation,
                         "samples": [{"name": s.name, "labels": dict(s.labels), "value": s.value}
                                     for s in f.samples]})
except Exception as e:  # the parser raises ValueError and others
    print("prom_parse.py: the exposition does not parse: %r" % e, file=sys.stderr)
    sys.exit(1)
json.dump({"families": families}, sys.stdout)
