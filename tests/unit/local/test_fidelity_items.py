"""How the embedded AWS measures, writes and validates items in an UpdateItem (local/fidelity.py):
a value's size is moto's DynamoType.size(), an item's JSON is moto's Item.to_json(), an update
over the size limit is refused where moto refuses it, and the checks remembered per expression
run again wherever they fail."""

from __future__ import annotations

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws
from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict

from local import fidelity
from tests.support.attribute_values import attribute_values

MOTO_TO_JSON = Item.to_json  # before any test installs the patches (each puts moto's back)
MOTO_SET = LimitedSizeDict.__setitem__


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(attrs=st.dictionaries(st.text(min_size=1, max_size=6), attribute_values(), max_size=5))
def test_sizes_and_json_are_moto_s_own(attrs, patched_later):
    patched_later()
    item = Item(DynamoType({"S": "pk"}), None, attrs)
    for value in item.attrs.values():
        assert fidelity.value_size(value) == value.size()
    assert Item.to_json._one_walk
    written, moto_written = item.to_json(), MOTO_TO_JSON(item)
    assert written == moto_written
    for name, value in item.attrs.items():  # every container new: changing one changes no item
        if value.type in ("M", "L"):
            assert written["Attributes"][name] is not moto_written["Attributes"][name]
    assert item.to_json("Item") == {"Item": moto_written["Attributes"]}


@pytest.mark.parametrize("room", [-1, 0, 1])
def test_a_set_over_the_size_limit_is_refused_where_moto_refuses_it(room, patched_later):
    patched_later()
    assert LimitedSizeDict.__setitem__._measured
    outcomes = []
    for setter in (MOTO_SET, LimitedSizeDict.__setitem__):
        attrs = LimitedSizeDict()
        dict.__setitem__(attrs, "big", DynamoType({"S": "x" * 400_000}))
        dict.__setitem__(attrs, "m", DynamoType({"M": {"k": {"L": [{"N": "12"}, {"SS": ["ab"]}]}}}))
        held = sum(len(k) + v.size() for k, v in attrs.items())
        fill = fidelity.ITEM_SIZE_LIMIT - held - len("new") + room
        try:
            setter(attrs, "new", DynamoType({"S": "y" * fill}))
            outcomes.append("stored")
        except Exception as error:
            outcomes.append(type(error).__name__)
    assert outcomes[0] == outcomes[1]
    assert outcomes[0] == ("ItemSizeTooLarge" if room > 0 else "stored")


def test_a_check_remembered_for_an_expression_runs_again_where_it_fails(patched_later):
    """The same expression text, passing with one set of names, then refused with names that
    make its two paths one (and a key attribute), then passing again."""
    patched_later()
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="ap-east-1")
        ddb.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        ddb.put_item(TableName="t", Item={"pk": {"S": "a"}})

        def update(first: str, second: str) -> str:
            try:
                ddb.update_item(
                    TableName="t",
                    Key={"pk": {"S": "a"}},
                    UpdateExpression="SET #a = :v, #b = :v",
                    ExpressionAttributeNames={"#a": first, "#b": second},
                    ExpressionAttributeValues={":v": {"S": "v"}},
                )
                return "ok"
            except ddb.exceptions.ClientError as error:
                return error.response["Error"]["Message"].split(": ", 1)[-1]

        outcomes = [update("x", "y"), update("x", "x"), update("pk", "y"), update("x", "y")]
    assert outcomes[0] == outcomes[3] == "ok"
    assert "Two document paths overlap" in outcomes[1]
    assert "part of the key" in outcomes[2]
