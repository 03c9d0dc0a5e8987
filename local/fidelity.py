"""Make the embedded AWS behave like the real one where the local stack would otherwise differ.

DynamoDB applies each write to an item atomically, conditions included. moto's server handles
requests on many threads and its backend checks a condition and then writes without a lock, so
two concurrent conditional updates of one item can both pass. The local stack serves real
concurrent traffic, so its writes are serialized here (one lock: stricter than DynamoDB, never
weaker). Tests on in-process moto call from one thread and need nothing.

Where moto's cost grows with the data (a flash sale on the local stack), it is brought back to
what DynamoDB's own costs look like: a transaction backs up the items it names, not whole tables;
a Query reads its partition, not the sorted table, on an index too (an index map kept by every
write); shard iterators expire as DynamoDB's do; a
stream forgets the records every reader has read (DynamoDB trims them after 24 h); a topic
remembers its latest messages only (moto kept every message published, for its tests). Where its
memory grows with the traffic rather than the data: moto no longer keeps every model object it
ever made (for its dashboard), and an item nobody touched for a while is held as its JSON.
"""

from __future__ import annotations

import functools
import json
import re
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

_WRITES = ("put_item", "update_item", "delete_item", "transact_write_items", "batch_write_item")
_lock = threading.RLock()


def _install(owner: Any, name: str, replacement: Callable[..., Any], marker: str) -> None:
    """Put `replacement` where moto has `owner.<name>`, marked with `marker` so that a second
    call finds it done."""
    setattr(replacement, marker, True)
    setattr(owner, name, replacement)


def like_aws() -> None:
    """Every adjustment to moto below, in the process that serves it (local/aws_process.py).
    Transactions and index maps are patched before writes are serialized, so a transaction's
    backups and a write's index upkeep happen under the lock."""
    requests_find_their_service_without_listing_moto()
    dispatch_lists_each_handlers_methods_once()
    model_objects_not_kept_for_the_dashboard()
    transactions_back_up_their_items()
    old_images_copied_for_streams_only()
    items_built_with_one_size_check()
    updates_measure_items_without_rebuilding_values()
    items_written_as_json_without_copies()
    conditions_parsed_once()
    writes_keep_index_maps()
    cold_items_kept_as_json()
    serialize_dynamodb_writes()
    queries_read_their_partition()
    shard_iterators_expire()
    streams_forget_what_every_reader_has_read()
    stream_records_kept_as_json()
    topics_keep_their_latest_messages()
    queues_read_the_clock_directly()
    queue_receives_read_the_retention_period_alone()
    queues_change_one_request_at_a_time()
    item_answers_written_as_json()
    answers_made_plain_by_their_types()
    request_ids_put_into_xml_answers_only()
    update_expressions_parsed_once()
    expression_trees_walked_without_lookups_per_node()
    static_checks_passed_once()
    clauses_found_by_node_type()
    expression_trees_copied_node_by_node()
    partiql_selects_by_partition_keys()


def requests_find_their_service_without_listing_moto() -> None:
    """moto's server picks the backend of every request under one lock, listing its own package
    directory and calling isdir on each of ~250 entries; each call lets go of the interpreter
    lock and waits to get it back behind every busy thread, so under a flash sale a GetItem
    took over a second. The list does not change while moto runs: read it once."""
    from moto import backends

    if getattr(backends.list_of_moto_modules, "_listed_once", False):
        return
    modules = tuple(backends.list_of_moto_modules())

    def list_of_moto_modules():
        return modules

    _install(backends, "list_of_moto_modules", list_of_moto_modules, "_listed_once")


def model_objects_not_kept_for_the_dashboard() -> None:
    """moto appends every model object it ever makes to a list on its class, for its dashboard's
    `/moto-api/data.json`: every item copy (a Query's answer, an UpdateItem's old image, a
    transaction's backup), stream record, shard iterator and SQS message stayed alive for as
    long as moto ran, whatever the tables and streams still held — under a flash sale, most of
    its memory, and a heap the garbage collector walked again and again. Make them without
    keeping them: the stack never reads the dashboard, which then lists nothing."""
    from moto.core.common_models import BaseModel

    if getattr(BaseModel.__new__, "_untracked", False):
        return

    def __new__(cls, *args: Any, **kwargs: Any):
        return super(BaseModel, cls).__new__(cls)

    __new__._untracked = True  # type: ignore[attr-defined]  # the mark a second call looks for
    BaseModel.__new__ = staticmethod(__new__)  # type: ignore[method-assign]


COLD_AFTER_S = 10.0  # an item not read or written for this long is kept as its JSON
SWEEP_EVERY_S = 1.0


class _ItemAttrs:
    """`Item.attrs` as a descriptor: the attribute map moto reads and changes in place, made
    again from the item's JSON when it was put away cold (cold_items_kept_as_json)."""

    def __get__(self, item: Any, owner: Any = None) -> Any:
        if item is None:
            return self
        held = item.__dict__
        attrs = held.get("_attrs")
        if attrs is None:
            with _lock:  # one thread thaws; a write's own changes are never made on a stale map
                attrs = held.get("_attrs")
                if attrs is None:
                    # put away cold, or made before this descriptor (moto's own `attrs`)
                    cold = held.pop("_cold", None)
                    attrs = held["_attrs"] = _thaw(cold) if cold else held.pop("attrs")
                    _warm[id(item)] = item
        held["_touched"] = time.monotonic()
        return attrs

    def __set__(self, item: Any, attrs: Any) -> None:
        held = item.__dict__
        held["_attrs"] = attrs
        held.pop("_cold", None)
        held["_touched"] = time.monotonic()
        _warm[id(item)] = item


_warm: Any = (
    None  # id -> item, weakly, for the items whose attribute maps are objects (Item is unhashable)
)
_sweep_state = {"at": 0.0}


def cold_items_kept_as_json() -> None:
    """moto holds every item as a tree of Python objects, about ten times its JSON (an order of
    1.6 KB as DynamoDB JSON was 13 KB), and a flash sale's orders are read and written in their
    first seconds, then rarely again. An item nobody has touched for COLD_AFTER_S is put away as
    its JSON, compressed (zlib's fastest level: an order's 2.5 KB of JSON in about a third, for
    ~20 µs once; a thaw is rare); the first read or write after that makes the objects again,
    exactly as moto made them from the same JSON when it was written. The sweep runs under the
    write lock, at most once every SWEEP_EVERY_S, at the start of a write (never inside one)."""
    import weakref

    from moto.dynamodb.models.dynamo_type import Item

    global _warm
    if isinstance(Item.__dict__.get("attrs"), _ItemAttrs):
        return
    _warm = weakref.WeakValueDictionary()
    Item.attrs = _ItemAttrs()  # type: ignore[assignment]  # moto sets it per instance


def _sweep_cold_items() -> None:
    """Put away the items untouched for COLD_AFTER_S (called under _lock, before a write)."""
    now = time.monotonic()
    if _warm is None or now - _sweep_state["at"] < SWEEP_EVERY_S:
        return
    _sweep_state["at"] = now
    oldest = now - COLD_AFTER_S
    for key, item in list(_warm.items()):
        held = item.__dict__
        if held.get("_touched", now) > oldest:
            continue
        _warm.pop(key, None)
        attrs = held.get("_attrs")
        if attrs is None:
            continue
        try:
            cold = json.dumps(
                {name: _wire(value) for name, value in attrs.items()},
                ensure_ascii=False,
                separators=(",", ":"),
            ).encode()
        except TypeError:  # a value with no JSON form (bytes): it stays as objects
            continue
        held["_cold"] = zlib.compress(cold, 1)
        held["_attrs"] = None


def _wire(value: Any) -> dict:
    """A DynamoType as the wire JSON it is made from (DynamoType(_wire(v)) == v)."""
    if value.type == "L":
        return {"L": [_wire(v) for v in value.value]}
    if value.type == "M":
        return {"M": {k: _wire(v) for k, v in value.value.items()}}
    return {value.type: value.value}


def _thaw(cold: bytes) -> Any:
    """The attribute map moto built from this JSON (its size was checked when it was written)."""
    from moto.dynamodb.models.dynamo_type import DynamoType, LimitedSizeDict

    attrs = LimitedSizeDict.__new__(LimitedSizeDict)
    made = json.loads(zlib.decompress(cold))
    dict.update(attrs, {name: DynamoType(value) for name, value in made.items()})
    return attrs


def serialize_dynamodb_writes() -> None:
    """Every DynamoDB request, reads included, handled under one lock, from parsing to the
    answer's bytes. moto's writes change a stored item in place, and its handlers read items
    outside the backend (UpdateItem's old image for ReturnValues, a projection, an answer being
    written): a read meeting a concurrent update failed with a 500 (`dictionary changed size
    during iteration`, in every flash-sale log) that botocore then retried, or could have read
    half an update. The backend's writes take the lock again (re-entrant) for callers that reach
    them without a request (a transaction's own steps, the tests). moto holds the interpreter
    lock for most of a request anyway, so little concurrency is lost. Waiting requests take the
    lock by turns (`Turns`: the stream consumers' and the API's)."""
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.responses import DynamoHandler

    if getattr(DynamoHandler.call_action, "_serialized", False):
        return
    for name in _WRITES:
        _install(DynamoDBBackend, name, _under_lock(getattr(DynamoDBBackend, name)), "_serialized")
    _install(DynamoHandler, "call_action", _in_turn(DynamoHandler.call_action), "_serialized")


def _under_lock(write: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(write)
    def locked(self, *args, **kwargs):
        with _lock:
            _sweep_cold_items()
            return write(self, *args, **kwargs)

    return locked


def _in_turn(call_action: Callable[..., Any]) -> Callable[..., Any]:
    """A request holds the lock from parsing to its answer, taken when its turn comes."""

    @functools.wraps(call_action)
    def in_turn(handler):
        with _TURNS.turn(_from_stream_consumer(handler)):
            _sweep_cold_items()
            return call_action(handler)

    return in_turn


STREAM_CONSUMERS_APP_ID = "paytrack-stream-pumps"
"""The stream pumps' process sets it as botocore's application id (`AWS_SDK_UA_APP_ID`), so
its requests say `app/paytrack-stream-pumps` in their User-Agent."""


def _from_stream_consumer(handler) -> bool:
    user_agent = (getattr(handler, "headers", None) or {}).get("User-Agent", "")
    return f"app/{STREAM_CONSUMERS_APP_ID}" in user_agent


API_TURNS_PER_CONSUMER_TURN = 3


class Turns:
    """Who takes the DynamoDB lock next when requests wait for it: the stream consumers' and
    everyone else's (the API's) by turns. In DynamoDB neither waits for the other. Served one
    at a time here, the API's 64 request threads against the pumps' few lanes took nearly every
    turn in a flash sale: `order.ready` stalled while the load lasted (37 of 1,200 orders in its
    first minute) and caught up only after it. Strictly alternating, the API — over two thirds
    of the requests, each a gateway or a shop waiting for its answer — queued longest: answers
    took seconds while `order.ready` waited milliseconds. So while both wait, the API takes up
    to API_TURNS_PER_CONSUMER_TURN turns, then the consumers one; each side takes every turn
    while the other is not waiting."""

    def __init__(self, lock: Any, api_turns: int = API_TURNS_PER_CONSUMER_TURN):
        self._lock = lock
        self._api_turns = api_turns
        self._state = threading.Lock()
        self._queues = {
            True: threading.Condition(self._state),
            False: threading.Condition(self._state),
        }
        self._waiting = {True: 0, False: 0}
        self._busy = False
        self._api_streak = 0  # API turns since the consumers' last

    def _due(self, consumer: bool) -> bool:
        """Whether this side's turn is next, should both wait."""
        owed = self._api_streak >= self._api_turns
        return owed if consumer else not owed

    def _may_go(self, consumer: bool) -> bool:
        if self._busy:
            return False
        return not self._waiting[not consumer] or self._due(consumer)

    @contextmanager
    def turn(self, consumer: bool) -> Iterator[None]:
        with self._state:
            self._waiting[consumer] += 1
            while not self._may_go(consumer):
                self._queues[consumer].wait()
            self._waiting[consumer] -= 1
            self._busy = True
            self._api_streak = 0 if consumer else self._api_streak + 1
        try:
            with self._lock:
                yield
        finally:
            with self._state:
                self._busy = False
                waiting = [side for side in (True, False) if self._waiting[side]]
                if waiting:
                    due = [side for side in waiting if self._due(side)]
                    self._queues[(due or waiting)[0]].notify()


_TURNS = Turns(_lock)


def dispatch_lists_each_handlers_methods_once() -> None:
    """moto finds a request's handler method by listing the handler class's members
    (inspect.getmembers) on every request: 3% of its time under a flash sale. The members of a
    class do not change while moto runs: list them once per class."""
    import moto.core.responses as responses

    if getattr(responses.method_names_from_class, "_listed_once", False):
        return
    _install(
        responses,
        "method_names_from_class",
        functools.lru_cache(maxsize=None)(responses.method_names_from_class),
        "_listed_once",
    )


def answer_unsupported_methods_like_api_gateway() -> None:
    """chalice's local server answers methods it has no handler for (TRACE, CONNECT) with 501;
    API Gateway refuses them with a 4xx. Answer 405 with our error shape instead."""
    import json

    from chalice.local import ChaliceRequestHandler

    def method_not_allowed(handler) -> None:
        body = json.dumps(
            {
                "error": {
                    "code": "method_not_allowed",
                    "message": f"{handler.command} is not supported",
                    "details": {},
                }
            }
        ).encode()
        handler.send_response(405)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    for method in ("TRACE", "CONNECT"):
        setattr(ChaliceRequestHandler, f"do_{method}", method_not_allowed)


def transactions_back_up_their_items() -> None:
    """moto backs up every table a TransactWriteItems names with a deepcopy of the whole table,
    stream included: time and garbage grow with the table, and a cancelled transaction swaps in
    the copy, whose new stream shard the stream pumps never read. Back up the named items and
    the stream's length instead, and put exactly those back on a cancellation."""
    import copy

    import moto.dynamodb.models as models
    from moto.dynamodb.models import DynamoDBBackend

    if getattr(DynamoDBBackend.transact_write_items, "_item_backups", False):
        return
    models.copy = _TablesNotCopied(copy)  # type: ignore[assignment]  # moto's `copy`, table-aware
    original = DynamoDBBackend.transact_write_items

    @functools.wraps(original)
    def transact_write_items(self, transact_items):
        backups = [_back_up(self, op) for op in transact_items]
        try:
            return original(self, transact_items)
        except Exception:
            for backup in reversed([b for b in backups if b is not None]):
                _restore(*backup)
            raise

    _install(DynamoDBBackend, "transact_write_items", transact_write_items, "_item_backups")


class _TablesNotCopied:
    """moto.dynamodb.models' and moto.dynamodb.responses' `copy`: a whole table is not copied,
    and an item (UpdateItem's old image: the only item either module copies) is an _Image, or
    the item itself where nothing will read it (a table with no stream)."""

    def __init__(self, copy_module):
        self._copy = copy_module

    def deepcopy(self, value, memo=None):
        from moto.dynamodb.models.dynamo_type import Item
        from moto.dynamodb.models.table import Table

        if isinstance(value, Table):
            return value
        if isinstance(value, Item):  # update_item's old image, its only copy of an item here
            return value if getattr(_old_image_scope, "unread", False) else _Image(value)
        return self._copy.deepcopy(value, memo)


class _Image:
    """An item as it was, for what moto deep-copies an item for before changing it: the stream
    record's old image (moto.dynamodb.models) and UpdateItem's old attributes for its answer
    (moto.dynamodb.responses). Both ask the copy for its JSON (and the record for its keys,
    which an update cannot change) and nothing else: the JSON made now is what the copy would
    have made then (Item.to_json makes new containers all the way down), without building the
    copy's objects first."""

    __slots__ = ("_attributes", "hash_key", "range_key")

    def __init__(self, item: Any) -> None:
        self.hash_key, self.range_key = item.hash_key, item.range_key
        self._attributes = item.to_json()["Attributes"]

    def to_json(self, root_attr_name: str = "Attributes") -> dict[str, Any]:
        return {root_attr_name: self._attributes}


_old_image_scope = threading.local()


def old_images_copied_for_streams_only() -> None:
    """moto's update_item deep-copies the item before changing it, only to write the old image
    to the table's stream; a table without a stream (stats and claims: two of an order's three
    UpdateItems, and every item of a stats transaction) paid for the copy anyway. Copy it only
    when the table has a stream (moto.dynamodb.models' `copy` is _TablesNotCopied by then), and
    then as its JSON (_Image), as UpdateItem's handler's copy of it for the answer's old
    attributes: two deep copies of an order, a sixth of its UpdateItem, were made only to be
    turned into JSON."""
    from moto.dynamodb.models import DynamoDBBackend

    if getattr(DynamoDBBackend.update_item, "_copies_for_streams", False):
        return
    original = DynamoDBBackend.update_item

    @functools.wraps(original)
    def update_item(self, table_name, *args, **kwargs):
        table = self.tables.get(table_name)
        _old_image_scope.unread = table is not None and table.stream_shard is None
        try:
            return original(self, table_name, *args, **kwargs)
        finally:
            _old_image_scope.unread = False

    _install(DynamoDBBackend, "update_item", update_item, "_copies_for_streams")
    import copy

    from moto.dynamodb import responses

    if not isinstance(responses.copy, _TablesNotCopied):
        responses.copy = _TablesNotCopied(copy)  # type: ignore[assignment]  # its one deepcopy


ITEM_SIZE_LIMIT = 405000  # moto's LimitedSizeDict: between DynamoDB's 409 and 410 KB


def items_built_with_one_size_check() -> None:
    """moto builds an item attribute by attribute into a LimitedSizeDict, which sums the size of
    every attribute already there at each insert: O(n²) in the attributes, for every item a
    request writes. Build the map, then check its size once: sizes are never negative, so the
    whole item is over the limit exactly when moto would have refused it at some insert."""
    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict
    from moto.dynamodb.models.utilities import bytesize

    if getattr(Item.__init__, "_one_size_check", False):
        return

    def __init__(self, hash_key, range_key, attrs):
        self.hash_key = hash_key
        self.range_key = range_key
        built = LimitedSizeDict.__new__(LimitedSizeDict)
        dict.update(built, {key: DynamoType(value) for key, value in attrs.items()})
        if sum(bytesize(key) + value_size(value) for key, value in built.items()) > ITEM_SIZE_LIMIT:
            raise ItemSizeTooLarge
        self.attrs = built

    _install(Item, "__init__", __init__, "_one_size_check")


_SET_TYPES = frozenset({"SS", "NS", "BS"})


def value_size(value: Any) -> int:
    """DynamoType.size(), the same number without the DynamoType moto builds again for every
    value of a map and every member of a set each time it measures one."""
    return _measurer()(value)


@functools.cache
def _measurer() -> Callable[[Any], int]:
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.utilities import bytesize

    def measure(value: Any) -> int:
        kind, held = value.type, value.value
        if kind == "S":
            return bytesize(held)
        if kind == "N":
            return len(str(held))
        if kind == "M":
            return sum(
                bytesize(k) + measure(v if type(v) is DynamoType else DynamoType(v))
                for k, v in held.items()
            )
        if kind == "L":
            return sum(measure(v) for v in held)
        if kind in _SET_TYPES:
            return sum(len(str(v)) if kind == "NS" else bytesize(v) for v in held)
        if isinstance(held, bool):
            return 1
        return bytesize(held)

    return measure


def items_written_as_json_without_copies() -> None:
    """moto writes an item as JSON (Item.to_json: an UpdateItem's answer, its stream record's
    two images, its old attributes) by deep-copying every map and list value at every level
    before turning it into JSON, then turning the copy's members into JSON again: a tenth of an
    order's UpdateItem. The same JSON, every container new as moto's, built in one walk."""
    import base64
    import copy

    from moto.dynamodb.models.dynamo_type import DynamoType, Item

    if getattr(Item.to_json, "_one_walk", False):
        return

    def regular(value: DynamoType) -> dict[str, Any]:
        held = value.value
        if isinstance(held, dict):
            made: Any = {
                k: regular(v) if isinstance(v, DynamoType) else copy.deepcopy(v)
                for k, v in held.items()
            }
        elif isinstance(held, list):
            made = [regular(v) if isinstance(v, DynamoType) else copy.deepcopy(v) for v in held]
        else:
            made = copy.deepcopy(held)
        if value.type == "B" and isinstance(made, str):
            made = base64.b64decode(made)
        return {value.type: made}

    def to_json(self, root_attr_name: str = "Attributes") -> dict[str, Any]:
        attributes: dict[str, Any] = {}
        for name, attribute in self.attrs.items():
            held = attribute.value
            if isinstance(held, dict):
                attributes[name] = {attribute.type: {k: regular(v) for k, v in held.items()}}
            elif isinstance(held, list):
                attributes[name] = {
                    attribute.type: [regular(v) if isinstance(v, DynamoType) else v for v in held]
                }
            else:
                attributes[name] = {attribute.type: held}
        return {root_attr_name: attributes}

    _install(Item, "to_json", to_json, "_one_walk")


def updates_measure_items_without_rebuilding_values() -> None:
    """Each SET of an UpdateItem stores into the item's LimitedSizeDict, which measures the whole
    item first (every value's DynamoType.size(), which builds a DynamoType again for each value
    of a map): a fifth of an order's UpdateItem. The same sum, the same refusal, measured with
    `value_size`."""
    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models.dynamo_type import DynamoType, LimitedSizeDict
    from moto.dynamodb.models.utilities import bytesize

    if getattr(LimitedSizeDict.__setitem__, "_measured", False):
        return

    def size_of(entry: Any) -> int:
        return value_size(entry) if type(entry) is DynamoType else bytesize(str(entry))

    def __setitem__(self, key, value):
        held = sum(size_of(k) for k in self.keys()) + sum(size_of(v) for v in self.values())
        if held + bytesize(key) + size_of(value) > ITEM_SIZE_LIMIT:
            raise ItemSizeTooLarge
        dict.__setitem__(self, key, value)

    _install(LimitedSizeDict, "__setitem__", __setitem__, "_measured")


PARSED_CONDITIONS_KEPT = 1024


def conditions_parsed_once() -> None:
    """moto parses a ConditionExpression (or FilterExpression) on every request, twice for an
    UpdateItem (its handler, then its backend) and twice per element of a transaction, though
    a client sends the same few conditions with the same values again and again (a claim's
    `NOT contains(#k, :k)`). The tree is only read (each node's `expr(item)`): parse each text,
    with the names and values it can refer to, once, and give every parser the placeholders
    found, as its own parse would."""
    from collections import OrderedDict

    from moto.dynamodb.comparisons import ConditionExpressionParser

    if getattr(ConditionExpressionParser.parse, "_parsed_once", False):
        return
    original = ConditionExpressionParser.parse
    parsed: OrderedDict[tuple, tuple] = OrderedDict()

    @functools.wraps(original)
    def parse(self):
        text = self.condition_expression
        if not text:
            return original(self)
        key = (
            text,
            _referenced(text, self.expression_attribute_names),
            _referenced(text, self.expression_attribute_values),
        )
        with _parsed_lock:
            found = parsed.get(key)
            if found is not None:
                parsed.move_to_end(key)
        if found is None:
            found = (
                original(self),
                tuple(self.expr_attr_names_found),
                tuple(self.expr_attr_values_found),
            )
            with _parsed_lock:
                parsed[key] = found
                while len(parsed) > PARSED_CONDITIONS_KEPT:
                    parsed.popitem(last=False)
        self.expr_attr_names_found = list(found[1])
        self.expr_attr_values_found = list(found[2])
        return found[0]

    _install(ConditionExpressionParser, "parse", parse, "_parsed_once")


_parsed_lock = threading.Lock()


def _referenced(text: str, placeholders: dict | None) -> str:
    """The placeholders whose names occur in `text` (a superset of those it refers to), as
    JSON: what the parse can depend on."""
    return json.dumps(
        {name: value for name, value in (placeholders or {}).items() if name in text},
        sort_keys=True,
    )


def _back_up(backend, element: dict):
    """(table, hash, range, a copy of the item or None, the stream's length) for one element."""
    import copy

    from moto.dynamodb.models.dynamo_type import DynamoType

    ((kind, op),) = element.items()
    table = backend.tables.get(op.get("TableName"))
    attrs = op.get("Item") if kind == "Put" else op.get("Key")
    if table is None or not attrs or table.hash_key_attr not in attrs:
        return None
    hash_value = DynamoType(attrs[table.hash_key_attr])
    range_value = DynamoType(attrs[table.range_key_attr]) if table.range_key_attr in attrs else None
    current = table.get_item(hash_value, range_value)
    stream_length = len(table.stream_shard.items) if table.stream_shard is not None else None
    return table, hash_value, range_value, copy.deepcopy(current), stream_length


def _restore(table, hash_value, range_value, item, stream_length) -> None:
    partition = table.items[hash_value] if table.range_key_attr else table.items
    key = range_value if table.range_key_attr else hash_value
    if item is None:
        partition.pop(key, None)
    else:
        partition[key] = item
    _reindex(table, hash_value, range_value)
    if stream_length is not None:
        del table.stream_shard.items[stream_length:]


_query_scope = threading.local()


def queries_read_their_partition() -> None:
    """moto answers every Query by sorting the whole table (all_items) and then walking it, so
    a Query costs O(n log n) in the table's size where DynamoDB reads one partition. A Query on
    the table now starts from its partition; on an index, from the items its index map holds
    under the queried hash value (writes_keep_index_maps). moto still checks every key condition
    on them and sorts the matches itself, by the full key, so the answer is the same."""
    from moto.dynamodb.models.table import Table

    if getattr(Table.query, "_partitioned", False):
        return
    original_query, original_all_items = Table.query, Table.all_items

    @functools.wraps(original_query)
    def query(self, hash_key, *args, **kwargs):
        index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
        _query_scope.table = self
        _query_scope.items = (
            _index_partition(self, index_name, kwargs.get("hash_key_conditions"))
            if index_name
            else _partition(self, hash_key)
        )
        try:
            return original_query(self, hash_key, *args, **kwargs)
        finally:
            _query_scope.table = _query_scope.items = None

    @functools.wraps(original_all_items)
    def all_items(self):
        if getattr(_query_scope, "table", None) is self:
            return _query_scope.items
        return original_all_items(self)

    Table.all_items = all_items  # type: ignore[method-assign]  # moto's, scoped to a query
    _install(Table, "query", query, "_partitioned")


def _partition(table, hash_key) -> list:
    found = table.items.get(hash_key) if hash_key is not None else None
    if found is None:
        return []
    return list(found.values()) if table.range_key_attr else [found]


def _index_partition(table, index_name: str, hash_key_conditions) -> list:
    """The items whose value of the index's (first) hash attribute is the queried one; every
    item when the index or the condition is not found (moto then answers its own error)."""
    index = next((i for i in table.all_indexes() if i.name == index_name), None)
    attribute = (
        next((k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH"), None)
        if index
        else None
    )
    value = dict(hash_key_conditions or ()).get(attribute)
    if attribute is None or value is None:
        return _unsorted(table)
    return _index_map(table).items_with(attribute, value)


def _unsorted(table) -> list:
    if not table.range_key_attr:
        return list(table.items.values())
    return [item for partition in table.items.values() for item in partition.values()]


class IndexMap:
    """A table's items by their value of each index hash attribute a Query has asked for, as
    DynamoDB keeps an index: built from the table on the first Query of an attribute, then kept
    by every write (writes_keep_index_maps).

    `buckets[attribute][value]` is the item with that value, or a dict of the items (by table
    key) when there are several; `placed[key]` is where an item's table key sits, one value per
    tracked attribute (`attributes`' order, None where it is not filed), to move it on the next
    write. A value is held as `(type, cast value)` (a DynamoType's own equality and hash; a
    string as itself):
    most of an order's indexed values (its e-mail, IP, trade number) are its alone, and a
    DynamoType and a dict per value kept them alive after the item was put away cold. In-process,
    1,500 orders written with six of the orders table's index attributes tracked kept 2.4 KB each
    in the map that way (more than the cold item), 0.85 KB this way."""

    def __init__(self, table):
        self.table = table
        self.attributes: list[str] = []
        self.buckets: dict[str, dict] = {}
        self.placed: dict[tuple, tuple] = {}

    def items_with(self, attribute: str, value) -> list:
        if attribute not in self.buckets:
            with _lock:
                self._track(attribute)
        try:
            found = self.buckets[attribute].get(_value_key(value))
        except TypeError:  # a set, list or map: no item is filed under one
            return []
        if found is None:
            return []
        return list(found.values()) if type(found) is dict else [found]  # one C call each

    def _track(self, attribute: str) -> None:
        if attribute in self.buckets:
            return
        self.buckets[attribute] = {}
        self.attributes.append(attribute)
        position = len(self.attributes) - 1
        for item in _unsorted(self.table):
            key = (item.hash_key, item.range_key)
            filed = self._file(attribute, key, item)
            if filed is not None:
                held = self.placed.get(key, ())
                self.placed[key] = (*held, *(None,) * (position - len(held)), filed)

    def refresh(self, hash_value, range_value) -> None:
        """File the item at this table key where its current values belong, then take it out of
        where it was (in that order: a Query meanwhile never misses an item that stays put)."""
        item = _stored(self.table, hash_value, range_value)
        # the item's own key objects where it is there (the request's are garbage after it)
        key = (hash_value, range_value) if item is None else _key_of(item)
        was = self.placed.pop(key, ())
        now = () if item is None else tuple(self._file(a, key, item) for a in self.attributes)
        for position, old in enumerate(was):
            if old is not None and (not now or now[position] != old):
                self._unfile(self.attributes[position], old, key)
        if any(filed is not None for filed in now):
            self.placed[key] = now

    def _file(self, attribute: str, key: tuple, item):
        """File the item under its value of `attribute`; that value's key, or None when not
        filed."""
        value = item.attrs.get(attribute)
        if value is None:
            return None
        bucket = self.buckets[attribute]
        try:
            filed = _value_key(value)
            held = bucket.get(filed)
        except TypeError:  # a set, list or map value: never equal to a queried key value
            return None
        if held is None or (type(held) is not dict and _key_of(held) == key):
            bucket[filed] = item
        elif type(held) is dict:
            held[key] = item
        else:
            bucket[filed] = {_key_of(held): held, key: item}
        return filed

    def _unfile(self, attribute: str, filed: Any, key: tuple) -> None:
        bucket = self.buckets[attribute]
        held = bucket.get(filed)
        if held is None:
            return
        if type(held) is not dict:
            if _key_of(held) == key:
                del bucket[filed]
            return
        held.pop(key, None)
        if len(held) == 1:
            bucket[filed] = next(iter(held.values()))
        elif not held:
            del bucket[filed]


def _value_key(value) -> Any:
    """A DynamoType as what its equality and hash compare: its type and cast value; a string
    (most indexed values) as itself, which no other type's key equals."""
    return value.value if value.type == "S" else (value.type, value.cast_value)


def _key_of(item) -> tuple:
    return (item.hash_key, item.range_key)


def _stored(table, hash_value, range_value):
    """The item at a table key, without moto's get_item adding an empty partition for it."""
    found = table.items.get(hash_value)
    if table.range_key_attr and found is not None:
        return found.get(range_value)
    return found


def _index_map(table) -> IndexMap:
    found = table.__dict__.get("_index_map")
    if found is None or found.table is not table:
        with _lock:
            found = table.__dict__.get("_index_map")
            if found is None or found.table is not table:
                found = table._index_map = IndexMap(table)
    return found


def _reindex(table, hash_value, range_value) -> None:
    found = table.__dict__.get("_index_map")
    if found is not None and found.table is table:
        with _lock:
            found.refresh(hash_value, range_value)


def writes_keep_index_maps() -> None:
    """Every way moto changes an item keeps the table's IndexMap: Table.put_item (PutItem,
    BatchWriteItem, a transaction's Put, a new item of an UpdateItem), Table.delete_item
    (DeleteItem, batches, transactions), the backend's update_item (which changes the stored
    item in place, in UpdateItem and in transactions) and a cancelled transaction's restore
    (_restore)."""
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    if getattr(Table.put_item, "_indexed", False):
        return
    original_put, original_delete, original_update = (
        Table.put_item,
        Table.delete_item,
        DynamoDBBackend.update_item,
    )

    @functools.wraps(original_put)
    def put_item(self, *args, **kwargs):
        item = original_put(self, *args, **kwargs)
        _reindex(self, item.hash_key, item.range_key)
        return item

    @functools.wraps(original_delete)
    def delete_item(self, hash_key, range_key):
        try:
            return original_delete(self, hash_key, range_key)
        finally:
            _reindex(self, hash_key, range_key)

    @functools.wraps(original_update)
    def update_item(self, table_name, key, *args, **kwargs):
        try:
            return original_update(self, table_name, key, *args, **kwargs)
        finally:
            table = self.tables.get(table_name)
            if table is not None and isinstance(key, dict) and table.hash_key_attr in key:
                range_key = key.get(table.range_key_attr) if table.range_key_attr else None
                _reindex(
                    table,
                    DynamoType(key[table.hash_key_attr]),
                    DynamoType(range_key) if range_key else None,
                )

    _install(Table, "put_item", put_item, "_indexed")
    _install(Table, "delete_item", delete_item, "_indexed")
    _install(DynamoDBBackend, "update_item", update_item, "_indexed")


SHARD_ITERATOR_LIFETIME_S = 15 * 60


def shard_iterators_expire() -> None:
    """DynamoDB Streams' shard iterators expire 15 minutes after they are handed out; moto keeps
    every one forever (each GetRecords makes one), so an idle stack's memory grew by the hour.
    Forget the expired ones whenever a new one is made, at most once a minute."""
    from moto.dynamodbstreams.models import ShardIterator

    if getattr(ShardIterator.__init__, "_expiring", False):
        return
    original_init = ShardIterator.__init__
    state = {"swept": time.monotonic()}

    @functools.wraps(original_init)
    def init(self, streams_backend, *args, **kwargs):
        original_init(self, streams_backend, *args, **kwargs)
        self.issued = time.monotonic()
        if self.issued - state["swept"] >= 60:
            state["swept"] = self.issued
            _sweep(streams_backend, self.issued - SHARD_ITERATOR_LIFETIME_S)

    _install(ShardIterator, "__init__", init, "_expiring")


def _sweep(streams_backend, oldest: float) -> None:
    iterators = streams_backend.shard_iterators
    for arn in [
        arn for arn, it in list(iterators.items()) if getattr(it, "issued", oldest) < oldest
    ]:
        iterators.pop(arn, None)


TRIM_AT_RECORDS = 100


def streams_forget_what_every_reader_has_read() -> None:
    """moto keeps every stream record (both images) for as long as it runs: under a flash sale
    that was most of its memory. Once a shard holds TRIM_AT_RECORDS records, drop those before
    the position of every live shard iterator, as DynamoDB drops records after 24 hours.

    A reader that reads with an iterator has moved past the iterator it came from (and that
    one's other successors, from reading it again): those are forgotten, as Lambda and the
    local pumps never go back to them. A reader's current iterator, or one handed out and not
    used yet, keeps its records until it expires (shard_iterators_expire)."""
    from moto.dynamodbstreams.models import ShardIterator

    if getattr(ShardIterator.get, "_trimming", False):
        return
    original_get = ShardIterator.get

    @functools.wraps(original_get)
    def get(self, limit: int = 1000):
        with _lock:  # writes append to the shard under it; the trim must not interleave
            _forget_predecessors(self)
            answer = original_get(self, limit)
            successor = self.streams_backend.shard_iterators[answer["NextShardIterator"]]
            successor.predecessor = self
            self.successors = [*getattr(self, "successors", []), successor]
            if len(self.stream_shard.items) >= TRIM_AT_RECORDS:
                _trim(self.stream_shard, self.streams_backend.shard_iterators)
            return answer

    _install(ShardIterator, "get", get, "_trimming")


def _forget_predecessors(iterator) -> None:
    previous = getattr(iterator, "predecessor", None)
    if previous is None:
        return
    for gone in [previous, *(s for s in previous.successors if s is not iterator)]:
        iterator.streams_backend.shard_iterators.pop(gone.arn, None)
    previous.successors = []
    iterator.predecessor = None


def _trim(shard, iterators: dict) -> None:
    """Drop the records before the oldest position a live iterator of `shard` reads from."""
    positions = [it.sequence_number for it in list(iterators.values()) if it.stream_shard is shard]
    read = min(positions, default=shard.starting_sequence_number) - shard.starting_sequence_number
    if read > 0:
        del shard.items[:read]
        shard.starting_sequence_number += read


class _PackedRecord:
    """`StreamRecord.record` as a descriptor: the record moto builds (and finishes building in
    its __init__) is held as it is until `_pack` puts it away as its JSON; each read after that
    makes it again from that JSON (stream_records_kept_as_json)."""

    def __get__(self, record: Any, owner: Any = None) -> Any:
        if record is None:
            return self
        held = record.__dict__
        if "_record" in held:
            return held["_record"]
        made = json.loads(zlib.decompress(held["_packed"]))
        made["dynamodb"] = {"ApproximateCreationDateTime": held["_created"], **made["dynamodb"]}
        return made

    def __set__(self, record: Any, value: Any) -> None:
        record.__dict__["_record"] = value


def _pack(record: Any) -> None:
    """Put a finished record away as its JSON, compressed as cold items are, its creation time
    (a datetime) beside it; a record with a binary value (bytes, no JSON form) stays as it is."""
    held = record.__dict__
    value = held["_record"]
    body = {**value["dynamodb"]}
    created = body.pop("ApproximateCreationDateTime")
    try:
        held["_packed"] = zlib.compress(
            json.dumps(
                {**value, "dynamodb": body}, ensure_ascii=False, separators=(",", ":")
            ).encode(),
            1,
        )
    except TypeError:
        return
    held["_created"] = created
    del held["_record"]


def stream_records_kept_as_json() -> None:
    """A stream record holds both images as trees of Python objects, ~18 KB for an order's
    record (measured: 74 KB per order of a sale, its four records, while the consumers have
    not read them), where its JSON is 2–4 KB. Records are trimmed once every reader has read
    them (streams_forget_what_every_reader_has_read), so what they cost is the backlog's
    memory: when the consumers fall behind in a flash sale, most of the embedded AWS's growth.
    Each record is kept as its JSON (compressed) once moto has built it; GetRecords makes it
    again from that JSON, so every reader gets what moto would have answered."""
    from moto.dynamodb.models.table import StreamRecord

    if isinstance(StreamRecord.__dict__.get("record"), _PackedRecord):
        return
    original_init = StreamRecord.__init__

    @functools.wraps(original_init)
    def init(self, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        _pack(self)

    StreamRecord.record = _PackedRecord()  # type: ignore[assignment]  # moto sets it per instance
    StreamRecord.__init__ = init  # type: ignore[method-assign]


SENT_NOTIFICATIONS_KEPT = 100


def topics_keep_their_latest_messages() -> None:
    """moto's Topic appends every message published to `sent_notifications` (for inspection in
    tests) and never lets go: keep the latest SENT_NOTIFICATIONS_KEPT."""
    from collections import deque

    from moto.sns.models import Topic

    if getattr(Topic.__init__, "_bounded", False):
        return
    original_init = Topic.__init__

    @functools.wraps(original_init)
    def init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        self.sent_notifications = deque(maxlen=SENT_NOTIFICATIONS_KEPT)

    _install(Topic, "__init__", init, "_bounded")


def queues_read_the_clock_directly() -> None:
    """moto's SQS takes the time as a naive UTC datetime minus a datetime it builds for the epoch,
    for every message of a queue on every send (a send computes the queue's attributes, and with
    them how many of its messages are visible, in flight and delayed): a third of the public
    process's time under a flash sale. The same seconds since the epoch are time.time()'s."""
    from moto.sqs import models

    if getattr(models.unix_time, "_direct", False):
        return
    from_datetime = models.unix_time

    def unix_time(dt=None) -> float:
        return time.time() if dt is None else from_datetime(dt)

    def unix_time_millis(dt=None) -> float:
        return unix_time(dt) * 1000.0

    _install(models, "unix_time", unix_time, "_direct")
    _install(models, "unix_time_millis", unix_time_millis, "_direct")


def queue_receives_read_the_retention_period_alone() -> None:
    """moto's ReceiveMessage checks each message's retention by computing every attribute of
    its queue, counting the queue's messages among them: O(n) a message, O(n²) a receive, and a
    queue that fell behind (the stack's event listener in a flash sale) took most of moto's
    time. Read the retention period alone; a message is kept until it is that old, as before."""
    from moto.core.utils import unix_time
    from moto.sqs.models import SQSBackend

    if getattr(SQSBackend.is_message_valid_based_on_retention_period, "_one_attribute", False):
        return

    def is_message_valid_based_on_retention_period(self, queue_name: str, message) -> bool:
        retention_s = int(self.get_queue(queue_name).message_retention_period)
        return retention_s + message.sent_timestamp / 1000 > unix_time()

    _install(
        SQSBackend,
        "is_message_valid_based_on_retention_period",
        is_message_valid_based_on_retention_period,
        "_one_attribute",
    )


_queues_lock = threading.RLock()
_QUEUE_CHANGES = (
    "send_message",
    "send_message_batch",
    "delete_message",
    "change_message_visibility",
    "purge_queue",
)


def _under_queues_lock(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def locked(self, *args, **kwargs):
        with _queues_lock:
            return original(self, *args, **kwargs)

    return locked


def queues_change_one_request_at_a_time() -> None:
    """moto's queues are sets and lists that a receive walks while a send (a topic's fan-out
    too) or a delete changes them on another thread: `Set changed size during iteration`, a
    500 that botocore retried, under a flash sale with several receivers on one queue (two could
    also take the same message). SQS hands each message to one receiver at a time: each change
    and each pass of a receive happens under one lock. A receive's long-poll wait is spent
    outside it, so a send during the wait ends the wait as before."""
    from moto.sqs.models import SQSBackend

    if getattr(SQSBackend.receive_message, "_one_at_a_time", False):
        return
    for name in _QUEUE_CHANGES:
        _install(SQSBackend, name, _under_queues_lock(getattr(SQSBackend, name)), "_one_at_a_time")

    receive = SQSBackend.receive_message

    def receive_message(
        self,
        queue_name: str,
        count: int,
        wait_seconds_timeout: int,
        visibility_timeout: int,
        message_attribute_names: list[str] | None = None,
    ) -> list[Any]:
        deadline = time.monotonic() + wait_seconds_timeout
        while True:
            with _queues_lock:
                received = receive(
                    self, queue_name, count, 0, visibility_timeout, message_attribute_names
                )
            left = deadline - time.monotonic()
            if received or left <= 0:
                return received
            self.get_queue(queue_name).wait_for_messages(min(1.0, left))

    _install(SQSBackend, "receive_message", receive_message, "_one_at_a_time")


# The operations whose answers carry items: moto's shape-driven serializer walked every
# attribute of every item of them, about a third of its CPU under a flash sale.
ITEM_ANSWERS = frozenset(
    {"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "TransactWriteItems", "GetRecords"}
)


def item_answers_written_as_json() -> None:
    """DynamoDB's answers are JSON whose items moto already holds in the wire format: write the
    answers of ITEM_ANSWERS with json.dumps (times as epoch seconds, as the serializer writes
    them), with the serializer's status and headers; errors and other operations as before."""
    from moto.core.responses import ActionResult

    if getattr(ActionResult.execute_result, "_json", False):
        return
    original = ActionResult.execute_result

    @functools.wraps(original)
    def execute_result(self, context):
        if context.operation_model.name not in ITEM_ANSWERS or isinstance(self.result, Exception):
            return original(self, context)
        serializer = context.serializer_class(operation_model=context.operation_model)
        response = serializer._create_default_response()
        response["headers"]["Content-Type"] = serializer._get_protocol_specific_content_type()
        return (
            response["status_code"],
            response["headers"],
            json.dumps(self.result, default=_wire_value),
        )

    _install(ActionResult, "execute_result", execute_result, "_json")


def answers_made_plain_by_their_types() -> None:
    """Before it writes an answer, moto turns the items in it into plain dicts and lists
    (`dynamo_to_dict`), asking every value of every attribute whether it is a datetime, a
    DynamoType, something with `to_json`, a dict or a list, in that order: a Query's answer
    was an eighth of the DynamoDB process's time. Ask those questions once per type instead, in
    the same order, with the same answers; a binary value, a datetime and anything with
    `to_json` take moto's own way."""
    from datetime import datetime

    from moto.dynamodb import responses
    from moto.dynamodb.models.dynamo_type import DynamoType

    original = responses.dynamo_to_dict
    if getattr(original, "_by_type", False):
        return
    kinds: dict[type, str] = {}

    def kind_of(value_type: type) -> str:
        if issubclass(value_type, datetime):
            return "moto"
        if issubclass(value_type, DynamoType):
            return "attribute"
        if hasattr(value_type, "to_json"):
            return "moto"
        if issubclass(value_type, dict):
            return "dict"
        if issubclass(value_type, list):
            return "list"
        return "leaf"

    def plain(value):
        value_type = type(value)
        kind = kinds.get(value_type) or kinds.setdefault(value_type, kind_of(value_type))
        if kind == "leaf":
            return value
        if kind == "dict":
            return {key: plain(member) for key, member in value.items()}
        if kind == "list":
            return [plain(member) for member in value]
        if kind == "attribute" and value.type not in ("B", "BS"):
            return {value.type: plain(value.value)}
        return original(value)

    _install(responses, "dynamo_to_dict", plain, "_by_type")


def request_ids_put_into_xml_answers_only() -> None:
    """moto writes each answer's request id into its body with a regular expression that looks
    for `<RequestId>` — through every JSON answer too, a Query's whole page. Only a body that
    has the tag can change: skip the search where it is not."""
    from moto.core.responses import BaseResponse
    from moto.utilities.aws_headers import gen_amzn_requestid_long

    original = BaseResponse._enrich_response
    if getattr(original, "_xml_only", False):
        return

    def enrich_response(headers, body):
        if isinstance(body, str) and "<RequestId>" not in body:
            if "status" in headers:
                headers["status"] = str(headers["status"])
            gen_amzn_requestid_long(headers)
            return headers, body
        return original(headers, body)

    enrich_response._xml_only = True  # type: ignore[attr-defined]  # the mark a second call looks for
    BaseResponse._enrich_response = staticmethod(enrich_response)  # type: ignore[method-assign]


def _wire_value(value):
    import base64
    from datetime import datetime

    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    raise TypeError(f"{type(value).__name__} has no JSON form here")


def update_expressions_parsed_once() -> None:
    """moto parses an UpdateItem's expression twice per call (its handler, then its backend),
    though a client sends the same few expressions again and again. The tree is only read: each
    validation works on its own deep copy (moto's `Validator.__init__`). Parse each text once."""
    from moto.dynamodb.parsing.expressions import (  # type: ignore[attr-defined]  # not in moto's __all__
        UpdateExpressionParser,
    )

    if getattr(UpdateExpressionParser.make, "_parsed_once", False):
        return
    parse = UpdateExpressionParser.make.__func__

    @functools.lru_cache(maxsize=1024)
    def make(cls, expression_str):
        return parse(cls, expression_str)

    make._parsed_once = True  # type: ignore[attr-defined]  # the mark a second call looks for
    UpdateExpressionParser.make = classmethod(make)  # type: ignore[arg-type]  # lru_cache keeps (cls, text)


def expression_trees_walked_without_lookups_per_node() -> None:
    """An UpdateItem's validation walks its expression tree ten times (one processor each); for
    every node, moto's walk rebuilt the processor's map of node types to functions twice and
    asked the abstract base class whether the node is a node and which of the map's types it
    is. The walk below does the same steps in the same order with the map built once per walk
    and each of those answers looked up by the node's type (`_node_kinds`)."""
    from moto.dynamodb.parsing.ast_nodes import (  # type: ignore[attr-defined]  # not in moto's __all__
        DepthFirstTraverser,
    )

    if getattr(DepthFirstTraverser.traverse, "_walks_once", False):
        return
    is_node, processor_of = _node_kinds()

    def traverse(self, root):
        processors = tuple(self._processing_map().items())
        owner = type(self)

        def visit(node, child_id=-1):
            if not is_node(type(node)):
                return node
            parent_node = node.parent
            if node.children is not None:
                for i, child_node in enumerate(node.children):
                    self.pre_processing_of_child(node, i)
                    visit(child_node, i)
            position = processor_of(owner, processors, type(node))
            if position is not None:
                node = processors[position][1](node)
                node.parent = parent_node
                if parent_node:
                    parent_node.children[child_id] = node
            return node

        return visit(root)

    _install(DepthFirstTraverser, "traverse", traverse, "_walks_once")


def _node_kinds() -> tuple[Callable[[type], bool], Callable[[type, tuple, type], int | None]]:
    """Whether a type is moto's `Node`, and which of a processor's map entries takes a node of
    a type (the first whose class it is an instance of, as moto's walk asks), each answered once
    per type: moto's node classes are abstract base classes, whose `isinstance` is a slow path
    taken for every node of every walk. A processor class's map is the same classes each time."""
    from moto.dynamodb.parsing.ast_nodes import Node  # type: ignore[attr-defined]

    nodes: dict[type, bool] = {}
    positions: dict[tuple[type, type], int | None] = {}

    def is_node(kind: type) -> bool:
        known = nodes.get(kind)
        if known is None:
            known = nodes[kind] = issubclass(kind, Node)
        return known

    def processor_of(owner: type, processors: tuple, kind: type) -> int | None:
        key = (owner, kind)
        if key not in positions:
            positions[key] = next(
                (i for i, (cls, _) in enumerate(processors) if issubclass(kind, cls)), None
            )
        return positions[key]

    return is_node, processor_of


def static_checks_passed_once() -> None:
    """Three of an UpdateItem's ten validation walks (each kind of clause at most once, no path
    twice, no key attribute) read only the expression, its names and the table's keys, and
    run at every nested expression node, each node counting the clauses of the whole tree
    below it: a third of an order's validation, the same outcome for the same expression every
    time. A check that passed is remembered per parsed expression (moto's parse is kept per
    text: update_expressions_parsed_once) with the names and keys it read, and skipped there
    after; a check that failed runs again, so every refusal is moto's own."""
    import weakref

    from moto.dynamodb.parsing import validators

    if getattr(validators.Validator.validate, "_static_once", False):
        return
    static = (
        validators.ActionCountValidator,
        validators.OverlappingPathsValidator,
        validators.UpdateHashRangeKeyValidator,
    )
    passed: weakref.WeakKeyDictionary[Any, set[tuple]] = weakref.WeakKeyDictionary()
    original_init = validators.Validator.__init__

    @functools.wraps(original_init)
    def __init__(self, expression, *args, **kwargs):
        original_init(self, expression, *args, **kwargs)
        self.parsed = expression

    def validate(self):
        node = self.node_to_validate
        seen = passed.setdefault(self.parsed, set())
        read = (
            tuple(sorted((self.expression_attribute_names or {}).items())),
            tuple(self.table.table_key_attrs),
        )
        for processor in self.processors:
            check = (type(processor), *read) if type(processor) in static else None
            if check in seen:
                continue
            node = processor.traverse(node)
            if check is not None:
                seen.add(check)
        return node

    _install(validators.Validator, "__init__", __init__, "_static_once")
    _install(validators.Validator, "validate", validate, "_static_once")


def clauses_found_by_node_type() -> None:
    """moto finds an update expression's clauses by walking its tree and asking, of each node,
    whether it is an expression or a function — three walks to count the clauses, one more to
    order the actions, each question an abstract base class's slow `isinstance`: a third of an
    UpdateItem's validation under a flash sale. The walk below takes the same steps and asks
    once per node type."""
    from moto.dynamodb.parsing.ast_nodes import (  # type: ignore[attr-defined]  # not in moto's __all__
        Expression,
        Node,
        UpdateExpressionFunction,
    )

    if getattr(Node.find_clauses, "_by_type", False):
        return
    descends: dict[type, bool] = {}

    def find_clauses(self, clause_types):
        clauses = []
        for child in self.children or []:
            kind = type(child)
            if kind in clause_types:
                clauses.append(child)
                continue
            descend = descends.get(kind)
            if descend is None:
                descend = descends[kind] = issubclass(kind, (Expression, UpdateExpressionFunction))
            if descend:
                clauses.extend(find_clauses(child, clause_types))
        return clauses

    _install(Node, "find_clauses", find_clauses, "_by_type")


_SHARED = (str, int, float, bool, type(None))


def expression_trees_copied_node_by_node() -> None:
    """Each UpdateItem's validation starts from its own deep copy of the parsed tree (its
    processors replace nodes in place): copy.deepcopy's generic walk of every node was a tenth
    of moto's time under a flash sale. A parsed tree holds nodes whose attributes are text,
    numbers, their parent and their children: copy those node by node, as deepcopy would, and
    anything else (a DynamoType list_append copies) with deepcopy itself."""
    import copy

    from moto.dynamodb.parsing import validators
    from moto.dynamodb.parsing.ast_nodes import Node  # type: ignore[attr-defined]

    if getattr(validators.deepcopy, "_node_by_node", False):
        return

    def copy_node(node, parent):
        copied = node.__class__.__new__(node.__class__)
        for name, value in node.__dict__.items():
            if name == "parent":
                value = parent
            elif name == "children" and value is not None:
                value = [
                    copy_node(child, copied) if isinstance(child, Node) else child_copy(child)
                    for child in value
                ]
            elif not isinstance(value, _SHARED):
                value = copy.deepcopy(value)
            copied.__dict__[name] = value
        return copied

    def child_copy(value):
        return value if isinstance(value, _SHARED) else copy.deepcopy(value)

    def deepcopy(value, memo=None):
        if isinstance(value, Node) and value.parent is None:
            return copy_node(value, None)
        return copy.deepcopy(value, memo)

    _install(validators, "deepcopy", deepcopy, "_node_by_node")


def accept_bursts_of_connections(backlog: int = 128) -> None:
    """chalice's local server listens with socketserver's backlog of 5, so a burst of clients
    (64 at once in a flash sale) has connections reset, which API Gateway never does. Listen
    with `backlog` like werkzeug's server (moto's) does."""
    from chalice.local import ThreadedHTTPServer

    ThreadedHTTPServer.request_queue_size = backlog


# SELECT a, b FROM "table"."index" WHERE pk IN [?, …] AND sk BETWEEN ? AND ?
_KEYED_SELECT = re.compile(
    r'\s*SELECT\s+(?P<attributes>\w+(?:\s*,\s*\w+)*)\s+FROM\s+"(?P<table>[^"]+)"\."(?P<index>[^"]+)"'
    r"\s+WHERE\s+(?P<hash>\w+)\s+IN\s+\[\s*(?P<marks>\?(?:\s*,\s*\?)*)\s*\]"
    r"\s+AND\s+(?P<range>\w+)\s+BETWEEN\s+\?\s+AND\s+\?\s*",
    re.IGNORECASE,
)
#: DynamoDB's limits for an IN on the partition key: values named, items a page
IN_KEYS, IN_PAGE_ITEMS = 50, 10


def partiql_selects_by_partition_keys() -> None:
    """moto's PartiQL (py-partiql-parser) has no IN, no BETWEEN and compares text as numbers, and
    it answers any statement by copying every item of every table and index first. The one
    shape the app sends — an index's partition keys IN a list, its sort key BETWEEN two values
    (store/orders.created_from_ips) — is answered here as DynamoDB runs it: one Query per key
    on the index, the projected attributes, at most 50 keys, pages of up to 10 items with a
    NextToken. Any other statement goes to moto as before. Installed on in-process moto by the
    tests too (tests/integration/conftest.py)."""
    import base64

    from moto.dynamodb.exceptions import MockValidationException
    from moto.dynamodb.responses import DynamoHandler, DynamoResult

    if getattr(DynamoHandler.execute_statement, "_keyed", False):
        return
    original = DynamoHandler.execute_statement

    @functools.wraps(original)
    def execute_statement(self):
        shape = _KEYED_SELECT.fullmatch(self.body.get("Statement", ""))
        if shape is None:
            return original(self)
        parameters = self.body.get("Parameters") or []
        keys = len(shape["marks"].split(","))
        if keys > IN_KEYS:
            raise MockValidationException(f"IN names {keys} partition key values: at most 50")
        if len(parameters) != keys + 2:
            raise MockValidationException("Number of parameters in request and statement differ")
        table = self.dynamodb_backend.get_table(shape["table"])
        index = table.get_index(shape["index"])
        schema = {key["KeyType"]: key["AttributeName"] for key in index.schema}
        if (schema.get("HASH"), schema.get("RANGE")) != (shape["hash"], shape["range"]):
            return original(self)
        bounds = parameters[keys:]
        projection = [[name.strip()] for name in shape["attributes"].split(",")]
        items = [
            item.attrs
            for value in parameters[:keys]
            for item in self.dynamodb_backend.query(
                shape["table"],
                value,
                "BETWEEN",
                bounds,
                None,
                None,
                True,
                projection,
                index_name=shape["index"],
                hash_key_conditions=[(shape["hash"], value)],
                range_key_conditions=[(shape["range"], "BETWEEN", bounds)],
            )[0]
        ]
        token = self.body.get("NextToken")
        start = int(base64.b64decode(token)) if token else 0
        answer: dict[str, Any] = {"Items": items[start : start + IN_PAGE_ITEMS]}
        if start + IN_PAGE_ITEMS < len(items):
            answer["NextToken"] = base64.b64encode(str(start + IN_PAGE_ITEMS).encode()).decode()
        return DynamoResult(answer)

    _install(DynamoHandler, "execute_statement", execute_statement, "_keyed")
