"""Redaction: registered values and their Basic-auth forms, and the secret-bearing fields of AWS responses
as botocore logs them (before adoscale holds the value to register it)."""

from __future__ import annotations

import base64
import json

from hypothesis import assume, given
from hypothesis import strategies as st

from adoscale.secrets import REDACTED, redact, register_secret

_SURROUNDINGS = json.dumps({"ARN": "arn:aws:secretsmanager:x", "SecretString": "", "VersionId": "v1"})


@given(st.text(alphabet=st.sampled_from('ab"\\,}{: xyz'), min_size=6, max_size=40))
def test_a_secret_string_in_a_logged_response_body_is_masked_whatever_it_holds(secret: str) -> None:
    assume(secret not in _SURROUNDINGS and secret not in REDACTED)
    body = json.dumps({"ARN": "arn:aws:secretsmanager:x", "SecretString": secret, "VersionId": "v1"}).encode()
    logged = redact(f"Response body:\n{body!r}")
    assert secret not in logged
    assert json.dumps(secret)[1:-1] not in logged  # nor its JSON-escaped form
    if not secret.endswith("\\"):  # a value ending in a backslash is masked to the end of the line: more, not less
        assert "VersionId" in logged  # the rest of the record stays readable


def test_an_ssm_parameter_value_is_masked_and_other_text_is_left_alone() -> None:
    body = json.dumps({"Parameter": {"Name": "/adoscale/config", "Value": '["x", "y"]', "Version": 3}})
    assert redact(body) == body.replace('[\\"x\\", \\"y\\"]', REDACTED)
    assert redact('a "Value" in prose, and "SecretString" too') == 'a "Value" in prose, and "SecretString" too'


def test_a_registered_secret_and_its_basic_auth_forms_are_masked() -> None:
    register_secret("registered-token-42")

    basic = base64.b64encode(b":registered-token-42").decode()
    logged = redact(f"Authorization: Basic {basic} token registered-token-42")
    assert logged == f"Authorization: Basic {REDACTED} token {REDACTED}"
