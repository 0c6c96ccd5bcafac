"""Hooks of scripts/schemathesis.sh (loaded through SCHEMATHESIS_HOOKS).

Every POST documents an optional Idempotency-Key. Schemathesis draws header values from a
small space, so two different requests often get the same key, and the server rightly
answers the second with 422 ("this key belongs to another request"), which the
positive-data check would read as a valid request refused. A well-formed key is therefore
made unique per request; malformed keys (the negative cases) are left as drawn, so their
400 is still checked. Replay, mismatch and in-flight answers are tested in
server/tests/idempotency and server/tests/rail_idempotency.rs.
"""

import re
import uuid

import schemathesis

WELL_FORMED = re.compile(r"^[!-~]{1,255}$")


@schemathesis.hook
def before_call(context, case, kwargs):
    headers = case.headers or {}
    for name in list(headers):
        if name.lower() == "idempotency-key":
            value = headers[name]
            if isinstance(value, str) and WELL_FORMED.match(value):
                headers[name] = uuid.uuid4().hex
