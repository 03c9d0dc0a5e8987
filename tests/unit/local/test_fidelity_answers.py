"""How the embedded AWS writes DynamoDB's answers (local/fidelity.py): items made plain by their
types give what moto's `dynamo_to_dict` gives, for every kind of value an item holds; the XML
request-id search is skipped only where a body has no request id to change."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.utilities import dynamo_to_dict

from local import fidelity
from tests.support.attribute_values import attribute_values


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(attrs=st.dictionaries(st.text(min_size=1, max_size=6), attribute_values(), max_size=5))
def test_answers_made_plain_by_type_are_moto_s_own(attrs, patched_later):
    patched_later()
    from moto.dynamodb import responses

    items = [{name: DynamoType(value) for name, value in attrs.items()}]
    answer = {
        "Items": items,
        "Count": 1,
        "LastEvaluatedKey": {"pk": {"S": "o1"}},
        "At": datetime(2026, 12, 7, tzinfo=UTC),
        "Ratio": 0.5,
    }
    assert responses.dynamo_to_dict(answer) == dynamo_to_dict(answer)
    assert getattr(responses.dynamo_to_dict, "_by_type", False)


def test_json_answers_get_a_request_id_header_and_keep_their_body(patched_later):
    patched_later()
    from moto.core.responses import BaseResponse

    body = '{"Item": {"note": {"S": "<RequestId>x</RequestId> in a value"}}}'
    status: dict[str, Any] = {"status": 200}
    headers, kept = BaseResponse._enrich_response(status, '{"Count": 0}')
    assert kept == '{"Count": 0}' and headers["status"] == "200"
    assert len(headers["x-amzn-requestid"]) == 52
    headers, changed = BaseResponse._enrich_response({}, body)  # moto's own way: the tag is there
    assert changed == body.replace(">x<", f">{headers['x-amzn-requestid']}<")

    xml = "<R><RequestId>old</RequestId></R>"
    headers, answered = BaseResponse._enrich_response({}, xml)
    assert answered == f"<R><RequestId>{headers['x-amzn-requestid']}</RequestId></R>"


def test_the_answer_patches_are_installed_once(patched_later):
    patched_later()
    from moto.core.responses import BaseResponse
    from moto.dynamodb import responses

    plain, enrich = responses.dynamo_to_dict, BaseResponse._enrich_response
    fidelity.answers_made_plain_by_their_types()
    fidelity.request_ids_put_into_xml_answers_only()
    assert responses.dynamo_to_dict is plain and BaseResponse._enrich_response is enrich
