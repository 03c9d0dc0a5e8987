"""Least privilege per Lambda function, read from the code: each function's IAM policy grants what
the code reachable from its handler calls, on the resources it calls it on, and nothing else.

    python -m infra.iam            # rewrite .chalice/policies/<stage>/<function>.json
    python -m infra.iam --check    # exit 1 when a committed policy differs from the code

How the code is read (a static scan, no import of the app):

- app.py names the Lambda functions: every `@app.route` runs in `api_handler`, each
  `@app.on_dynamodb_record` / `@app.schedule` handler is its own function; middleware registered
  with `app.register_middleware` runs in all of them.
- From each handler, every top-level function, class and module-level value of chalicelib that is
  referenced (through imports, module aliases, decorators, dict registries, lambdas) is reachable;
  so is `f` of a module passed to a call whose result it is read from (a repository port named
  with its real: `ports.orders(order_store).get(…)` reaches `store.orders.get`); a module passed
  to a call whose result is kept instead (`repo = ports.orders(order_store)`) stops the scan.
  This over-approximates a call graph (a referenced function counts as called), never under.
- In each reachable piece of code, AWS calls are recognised by their shape: PynamoDB calls on a
  model (`XModel.get`, `.query`/`.count`, `.save`, `.update(actions=…)`, `.delete()`,
  `batch_get`, `batch_write`, the conditional helpers of store/_dynamo.py, `dispatch("Op")`) on
  the tables of the models that code names; boto3 calls (`update_item`, `publish` or
  `publish_batch` with the topic named beside it, `put_object`, multipart uploads, presigned `get_object`, `get_secret_value`
  with the secret's setting beside it).
  A boto3 client of any other service stops the scan until it is taught here.
- What the platform does with the function's role is added by kind: stream consumers read their
  stream and write the stream-failure queue; scheduled functions write the job-failure queue
  (their asynchronous on-failure destination); every function writes the app log group and its
  X-Ray traces.
- Publishing to the paging topic also needs its KMS key: the key policy in infra/resources.json
  grants the publishing functions' roles (tests/unit/test_iam.py keeps the two in step).

The committed files are the reviewed artifact: a code change that calls something new fails
`--check` (and the tests) until the regenerated policy is committed with it.
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
STAGES = ("local", "dev", "prod")
API_FUNCTION = "api_handler"
POLICY_DIR = Path(".chalice") / "policies"

STREAM_READ = (
    "dynamodb:DescribeStream",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
    "dynamodb:ListStreams",
)
LOG_WRITE = ("logs:CreateLogStream", "logs:PutLogEvents")
# X-Ray traces (active tracing, platform/tracing.py): these actions have no resource types, so
# their statement's resource is "*" — the only one.
TRACE_WRITE = ("xray:PutTelemetryRecords", "xray:PutTraceSegments")
_DYNAMO_OPS = {
    "GetItem",
    "BatchGetItem",
    "Query",
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "BatchWriteItem",
    "ConditionCheckItem",
    "Scan",
}
_BOTO_DYNAMO = {
    "get_item": "GetItem",
    "batch_get_item": "BatchGetItem",
    "query": "Query",
    "put_item": "PutItem",
    "update_item": "UpdateItem",
    "delete_item": "DeleteItem",
    "batch_write_item": "BatchWriteItem",
    "scan": "Scan",
    "transact_write_items": "UpdateItem",
    "execute_statement": "PartiQLSelect",
}  # transact_write_items authorised per element: the Updates we send; execute_statement as a
# SELECT (the only PartiQL the app sends: store/orders.created_from_ips), so a write through it
# would be refused, never granted unseen
_HELPER_OPS = {"update_or_old": "UpdateItem", "update_if": "UpdateItem", "put_or_old": "PutItem"}
_S3_CALLS = {
    "put_object": "s3:PutObject",
    "create_multipart_upload": "s3:PutObject",
    "upload_part": "s3:PutObject",
    "complete_multipart_upload": "s3:PutObject",
    "abort_multipart_upload": "s3:AbortMultipartUpload",
    "list_parts": "s3:ListMultipartUploadParts",
    "get_object": "s3:GetObject",
}
_TOPICS = {"events_topic_arn": "events", "paging_topic_arn": "paging"}
_SECRETS = {"channels_secret_id": "channels", "verification_secret_id": "verification"}
# TransactWriteItems is authorised per element: {"Update": {…}} needs UpdateItem on its table
_TRANSACT_ELEMENTS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}
# what a boto3 client may be asked for here; any other call on `client("<service>")` stops the scan
_CLIENT_CALLS = {
    "dynamodb": {*_BOTO_DYNAMO, "transact_write_items"},
    "s3": {*_S3_CALLS, "generate_presigned_url"},
    "sns": {"publish", "publish_batch"},  # PublishBatch is authorised as sns:Publish
    "secretsmanager": {"get_secret_value"},
}


class ScanError(RuntimeError):
    pass


# Grants are (action, resource) pairs with symbolic resources, turned into ARNs per stage:
# ("table", name), ("stream", table), ("bucket",), ("topic", name), ("secret", name), ("queue", name),
# ("logs",).
Grant = tuple[str, tuple[str, ...]]


@dataclass
class Function:
    name: str
    kind: str  # "api", "stream" or "schedule"
    roots: set[tuple[str, str]] = field(default_factory=set)
    stream_table: str | None = None
    keys: frozenset[str] = frozenset()  # a scheduled handler's string literals (its job's name)


# ------------------------------------------------------------------------------- reading the code


@dataclass
class _Module:
    name: str
    nodes: dict[str, ast.AST]
    imports: dict[str, tuple[str, str | None]]  # local name -> (module, member or None)


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve_from(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    base = base[: len(base) - node.level + (1 if is_package else 0)]
    return ".".join(base + ([node.module] if node.module else []))


def _read_module(path: Path, root: Path) -> _Module:
    name = _module_name(path, root)
    tree = ast.parse(path.read_text(), filename=str(path))
    nodes: dict[str, ast.AST] = {}
    imports: dict[str, tuple[str, str | None]] = {}
    for statement in ast.walk(tree):
        if isinstance(statement, ast.ImportFrom):
            source = _resolve_from(name, path.name == "__init__.py", statement)
            for alias in statement.names:
                imports[alias.asname or alias.name] = (source, alias.name)
        elif isinstance(statement, ast.Import):
            for alias in statement.names:
                imports[alias.asname or alias.name.split(".")[0]] = (alias.name, None)
    for statement in tree.body:
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            nodes[statement.name] = statement
        elif isinstance(statement, (ast.Assign, ast.AnnAssign)):
            targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    nodes[target.id] = statement
    return _Module(name, nodes, imports)


class Codebase:
    """app.py and chalicelib, parsed: resolve names to top-level nodes, find what each reaches."""

    def __init__(self, root: Path = REPO):
        self.root = root
        paths = [root / "app.py", *sorted((root / "chalicelib").rglob("*.py"))]
        self.modules = {m.name: m for m in (_read_module(p, root) for p in paths)}
        self.models = self._models()

    def _models(self) -> dict[str, str]:
        """Model class name -> table name, from `Meta = _meta("<table>", …)` in store/models.py."""
        found: dict[str, str] = {}
        for name, node in self.modules["chalicelib.store.models"].nodes.items():
            for item in getattr(node, "body", []) if isinstance(node, ast.ClassDef) else []:
                if (
                    isinstance(item, ast.Assign)
                    and isinstance(item.value, ast.Call)
                    and getattr(item.value.func, "id", None) == "_meta"
                    and isinstance(item.value.args[0], ast.Constant)
                    and isinstance(item.value.args[0].value, str)
                ):
                    found[name] = item.value.args[0].value
        return found

    def resolve(self, module: str, name: str) -> tuple[str, str | None] | None:
        """What `name` means in `module`: (module, member) for a node, (module, None) for a module."""
        own = self.modules.get(module)
        if own is None:
            return None
        if name in own.nodes:
            return module, name
        if name not in own.imports:
            return None
        source, member = own.imports[name]
        if member is None:
            return (source, None) if source in self.modules else None
        if f"{source}.{member}" in self.modules:
            return f"{source}.{member}", None
        if source in self.modules:
            return (
                self.resolve(source, member)
                if member not in self.modules[source].nodes
                else (source, member)
            )
        return None

    def references(self, module: str, node: ast.AST) -> set[tuple[str, str]]:
        """Top-level nodes of the codebase that `node` names."""
        found: set[tuple[str, str]] = set()
        read_off = {id(a.value) for a in ast.walk(node) if isinstance(a, ast.Attribute)}
        for item in ast.walk(node):
            if isinstance(item, ast.Call) and id(item) not in read_off:
                self._no_module_passed(module, item)
            if isinstance(item, ast.Attribute) and isinstance(item.value, ast.Name):
                target = self.resolve(module, item.value.id)
                if target and target[1] is None and item.attr in self.modules[target[0]].nodes:
                    found.add((target[0], item.attr))
            if isinstance(item, ast.Attribute) and isinstance(item.value, ast.Call):
                found |= self._through_port(module, item.value, item.attr)
            if isinstance(item, ast.Name):
                target = self.resolve(module, item.id)
                if target and target[1] is not None:
                    found.add((target[0], target[1]))
        return found

    def _through_port(self, module: str, call: ast.Call, attr: str) -> set[tuple[str, str]]:
        """`ports.orders(order_store).get`: a repository port named with its real, a module,
        is a call of that module's `get` (services/ports.py)."""
        found: set[tuple[str, str]] = set()
        for arg in call.args:
            target = self.resolve(module, arg.id) if isinstance(arg, ast.Name) else None
            if target and target[1] is None and attr in self.modules[target[0]].nodes:
                found.add((target[0], attr))
        return found

    def _no_module_passed(self, module: str, call: ast.Call) -> None:
        """A module handed to a call whose result is kept (`repo = ports.orders(order_store)`)
        hides which of its functions are called: refused, so no call goes ungranted."""
        for arg in [*call.args, *(k.value for k in call.keywords)]:
            if not isinstance(arg, ast.Name):
                continue
            target = self.resolve(module, arg.id)
            if target and target[1] is None:
                raise ScanError(
                    f"{module}: module {arg.id} passed as a value: call its function on the "
                    f"result directly (ports.orders(order_store).get(…)), or teach infra/iam.py"
                )

    def reachable(
        self, roots: set[tuple[str, str]], keys: frozenset[str] = frozenset()
    ) -> set[tuple[str, str]]:
        """Every node reachable from `roots`; a registry dict is followed only into the entries
        named by `keys` when any entry is (see _registry_entries)."""
        seen: set[tuple[str, str]] = set()
        todo = list(roots)
        while todo:
            key = todo.pop()
            if (
                key in seen
                or key[0] not in self.modules
                or key[1] not in self.modules[key[0]].nodes
            ):
                continue
            seen.add(key)
            node = self.modules[key[0]].nodes[key[1]]
            todo.extend(self.references(key[0], _registry_entries(node, keys) or node) - seen)
        return seen

    def model_of(self, module: str, expression: ast.AST | None) -> str | None:
        if isinstance(expression, ast.Name):
            target = self.resolve(module, expression.id)
            if (
                target
                and target == ("chalicelib.store.models", expression.id)
                and expression.id in self.models
            ):
                return expression.id
        return None


def _registry_entries(node: ast.AST, keys: frozenset[str]) -> ast.AST | None:
    """The chosen entries of a registry `NAME = {"key": handler, …}` reached from a scheduled
    handler that passes one of its keys as a literal (`jobs.run_scheduled("expire_orders")` runs
    only `JOBS["expire_orders"]`); None when the node is no such registry or names none of them."""
    value = node.value if isinstance(node, (ast.Assign, ast.AnnAssign)) else None
    if not keys or not isinstance(value, ast.Dict):
        return None
    chosen = [
        entry
        for key, entry in zip(value.keys, value.values, strict=True)
        if isinstance(key, ast.Constant) and key.value in keys
    ]
    return ast.Tuple(elts=chosen, ctx=ast.Load()) if chosen else None


# ------------------------------------------------------------------------------- AWS calls in code


def _call_name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    if isinstance(call.func, ast.Name):
        return call.func.id
    return None


def _batch_names(node: ast.AST) -> set[str]:
    """Names bound by `with X.batch_write() as batch:` (their save/delete are BatchWriteItem)."""
    names = set()
    for item in ast.walk(node):
        if (
            isinstance(item, ast.withitem)
            and isinstance(item.context_expr, ast.Call)
            and _call_name(item.context_expr) == "batch_write"
            and isinstance(item.optional_vars, ast.Name)
        ):
            names.add(item.optional_vars.id)
    return names


def _strings(call: ast.Call) -> list[str]:
    return [a.value for a in call.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]


def _dynamo_op(code: Codebase, module: str, call: ast.Call, batch: set[str]) -> str | None:
    name = _call_name(call)
    if name is None:
        return None
    receiver = call.func.value if isinstance(call.func, ast.Attribute) else None
    receiver_name = receiver.id if isinstance(receiver, ast.Name) else None
    on_model_attribute = isinstance(receiver, ast.Attribute) and code.model_of(
        module, receiver.value
    )
    if receiver_name in batch and name in ("save", "delete"):
        return "BatchWriteItem"
    if name in ("get", "refresh", "batch_get") and (
        name == "refresh" or code.model_of(module, receiver)
    ):
        return {"get": "GetItem", "refresh": "GetItem", "batch_get": "BatchGetItem"}[name]
    simple = {
        "query": "Query",
        "count": "Query",
        "save": "PutItem",
        "batch_write": "BatchWriteItem",
        "condition_check": "ConditionCheckItem",
        **_HELPER_OPS,
        **_BOTO_DYNAMO,
    }
    if name == "count" and not (code.model_of(module, receiver) or on_model_attribute):
        return None
    if name == "update":
        return "UpdateItem" if any(k.arg == "actions" for k in call.keywords) else None
    if name == "delete":
        return (
            None if on_model_attribute else "DeleteItem"
        )  # Model.attr.delete() is an update action
    if name in ("dispatch", "_dispatch"):
        return next((s for s in _strings(call) if s in _DYNAMO_OPS), None)
    return simple.get(name)


def _aws_client(call: ast.Call) -> str | None:
    if (
        _call_name(call) == "client"
        and call.args
        and isinstance(call.args[0], ast.Constant)
        and isinstance(call.args[0].value, str)
    ):
        return call.args[0].value
    return None


def _check_client_call(module: str, call: ast.Call) -> None:
    """`client("<service>").<method>(…)`: the service and method must be ones this scan knows."""
    service = _aws_client(call)
    if service and service not in _CLIENT_CALLS:
        raise ScanError(f"{module}: a {service!r} client: teach infra/iam.py what it needs")
    if not isinstance(call.func, ast.Attribute):
        return
    inner = call.func.value
    service = _aws_client(inner) if isinstance(inner, ast.Call) else None
    if service in _CLIENT_CALLS and call.func.attr not in _CLIENT_CALLS[service]:
        raise ScanError(f"{module}: {service}.{call.func.attr}: teach infra/iam.py what it needs")


def _transact_ops(node: ast.AST) -> set[str]:
    """Operations named by TransactWriteItems elements built in `node` ({"Update": {…}})."""
    return {
        _TRANSACT_ELEMENTS[key.value]
        for item in ast.walk(node)
        if isinstance(item, ast.Dict)
        for key in item.keys
        if isinstance(key, ast.Constant) and key.value in _TRANSACT_ELEMENTS
    }


def footprint(code: Codebase, module: str, node: ast.AST) -> set[Grant]:
    """The AWS calls one top-level node makes, on the resources it names."""
    grants: set[Grant] = set()
    names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
    attributes = {n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)}
    tables = {code.models[m] for m in names if code.model_of(module, ast.Name(id=m))}
    batch = _batch_names(node)
    grants |= {
        (f"dynamodb:{op}", ("table", table)) for op in _transact_ops(node) for table in tables
    }
    for call in (n for n in ast.walk(node) if isinstance(n, ast.Call)):
        _check_client_call(module, call)
        name = _call_name(call)
        op = _dynamo_op(code, module, call, batch) if tables else None
        grants |= {(f"dynamodb:{op}", ("table", table)) for table in tables} if op else set()
        if name in _S3_CALLS and isinstance(call.func, ast.Attribute):
            grants.add((_S3_CALLS[name], ("bucket",)))
        if name == "generate_presigned_url" and "get_object" in _strings(call):
            grants.add(("s3:GetObject", ("bucket",)))
        if name == "get_secret_value":
            secrets = {_SECRETS[a] for a in attributes if a in _SECRETS}
            if not secrets:
                raise ScanError(f"{module}: get_secret_value without a secret setting beside it")
            grants |= {("secretsmanager:GetSecretValue", ("secret", secret)) for secret in secrets}
        if name in ("publish", "publish_batch") and isinstance(call.func, ast.Attribute):
            topics = {_TOPICS[a] for a in attributes if a in _TOPICS}
            if not topics:
                raise ScanError(f"{module}: sns publish without a topic setting beside it")
            grants |= {("sns:Publish", ("topic", topic)) for topic in topics}
    if any(action == "dynamodb:Scan" for action, _ in grants):
        raise ScanError(f"{module}: a Scan (never on request paths: use a key or an index)")
    return grants


# ------------------------------------------------------------------------------- functions of app.py


def _decorator(node: ast.FunctionDef) -> tuple[str, ast.Call] | None:
    for decorator in node.decorator_list:
        if (
            isinstance(decorator, ast.Call)
            and isinstance(decorator.func, ast.Attribute)
            and isinstance(decorator.func.value, ast.Name)
            and decorator.func.value.id == "app"
        ):
            return decorator.func.attr, decorator
    return None


def functions(code: Codebase) -> dict[str, Function]:
    """The Lambda functions chalice makes of app.py, with the code each one starts from."""
    app = code.modules["app"]
    api = Function(API_FUNCTION, "api")
    found = {API_FUNCTION: api}
    tree = ast.parse((code.root / "app.py").read_text())
    everywhere = set()
    for statement in tree.body:
        if (
            isinstance(statement, ast.Expr)
            and isinstance(statement.value, ast.Call)
            and _call_name(statement.value) == "register_middleware"
        ):
            everywhere |= code.references("app", statement.value)
    for name, node in app.nodes.items():
        kind = _decorator(node) if isinstance(node, ast.FunctionDef) else None
        if kind is None:
            continue
        if kind[0] == "route":
            api.roots.add(("app", name))
        elif kind[0] == "on_dynamodb_record":
            arn = next(k.value for k in kind[1].keywords if k.arg == "stream_arn")
            if not isinstance(arn, ast.Attribute):
                raise ScanError(f"app.{name}: stream_arn must be settings.<table>_stream_arn")
            found[name] = Function(
                name, "stream", {("app", name)}, arn.attr.removesuffix("_stream_arn")
            )
        elif kind[0] == "schedule":
            literals = frozenset(
                n.value
                for n in ast.walk(node)
                if isinstance(n, ast.Constant) and isinstance(n.value, str)
            )
            found[name] = Function(name, "schedule", {("app", name)}, keys=literals)
    for function in found.values():
        function.roots |= everywhere
    return found


def grants_of(code: Codebase, function: Function) -> set[Grant]:
    grants: set[Grant] = {(action, ("logs",)) for action in LOG_WRITE}
    grants |= {(action, ("xray",)) for action in TRACE_WRITE}
    for module, name in code.reachable(function.roots, function.keys):
        grants |= footprint(code, module, code.modules[module].nodes[name])
    if function.kind == "stream":
        if function.stream_table is None:
            raise ScanError(f"{function.name}: a stream function names no table")
        table = function.stream_table
        grants |= {(action, ("stream", table)) for action in STREAM_READ}
        grants.add(("sqs:SendMessage", ("queue", "stream-failures")))
    if function.kind == "schedule":
        grants.add(("sqs:SendMessage", ("queue", "job-failures")))
    return grants


def scan(root: Path = REPO) -> dict[str, set[Grant]]:
    """{function name: its grants}, from the code under `root`."""
    code = Codebase(root)
    return {name: grants_of(code, function) for name, function in sorted(functions(code).items())}


# ------------------------------------------------------------------------------- policies


def _arns(resource: tuple[str, ...], stage: str, action: str) -> list[str]:
    kind, *rest = resource
    prefix = f"paytrack-{stage}"
    if kind == "table":
        table = f"arn:aws:dynamodb:*:*:table/{prefix}-{rest[0]}"
        reads_indexes = action in ("dynamodb:Query", "dynamodb:PartiQLSelect")
        return [table, f"{table}/index/*"] if reads_indexes else [table]
    return {
        "stream": lambda: [f"arn:aws:dynamodb:*:*:table/{prefix}-{rest[0]}/stream/*"],
        # the files bucket is named paytrack-<stage>-files-<account>-<region>
        "bucket": lambda: [f"arn:aws:s3:::{prefix}-files-*/*"],
        "topic": lambda: [f"arn:aws:sns:*:*:{prefix}-{rest[0]}"],
        "secret": lambda: [f"arn:aws:secretsmanager:*:*:secret:paytrack/{stage}/{rest[0]}-??????"],
        "queue": lambda: [f"arn:aws:sqs:*:*:{prefix}-{rest[0]}"],
        "logs": lambda: [f"arn:aws:logs:*:*:log-group:/aws/lambda/{prefix}:*"],
        "xray": lambda: ["*"],
    }[kind]()


def _sid(resource: tuple[str, ...]) -> str:
    return "".join(part.title().replace("-", "").replace("_", "") for part in resource)


def policy(grants: set[Grant], stage: str) -> dict:
    """One statement per resource, its actions sorted: a stable, reviewable document."""
    by_resource: dict[tuple[str, ...], set[str]] = {}
    for action, resource in grants:
        by_resource.setdefault(resource, set()).add(action)
    statements = []
    for resource in sorted(by_resource):
        actions = sorted(by_resource[resource])
        arns = sorted({arn for action in actions for arn in _arns(resource, stage, action)})
        statement: dict[str, Any] = {
            "Sid": _sid(resource),
            "Effect": "Allow",
            "Action": actions,
            "Resource": arns,
        }
        if resource == ("bucket",):
            statement["Condition"] = {
                "StringEquals": {"s3:ResourceAccount": "${aws:PrincipalAccount}"}
            }
        statements.append(statement)
        if "dynamodb:PartiQLSelect" in actions:
            statements.append(_no_full_scan(resource, stage))
    return {"Version": "2012-10-17", "Statement": statements}


def _no_full_scan(resource: tuple[str, ...], stage: str) -> dict:
    """A PartiQL SELECT without its partition key is a Scan: denied, as Scan is never granted."""
    return {
        "Sid": _sid(resource) + "NoFullScan",
        "Effect": "Deny",
        "Action": ["dynamodb:PartiQLSelect"],
        "Resource": _arns(resource, stage, "dynamodb:PartiQLSelect"),
        "Condition": {"Bool": {"dynamodb:FullTableScan": "true"}},
    }


def policy_file(stage: str, function: str) -> Path:
    """Relative to .chalice (chalice's `iam_policy_file`)."""
    return Path("policies") / stage / f"{function}.json"


def rendered(root: Path = REPO, scanned: dict[str, set[Grant]] | None = None) -> dict[Path, str]:
    """{path under the repo: file text} for every stage and function (of `scanned`, the scan of
    the code under `root` if not given)."""
    files = {}
    for function, grants in (scan(root) if scanned is None else scanned).items():
        for stage in STAGES:
            text = json.dumps(policy(grants, stage), indent=2) + "\n"
            files[Path(".chalice") / policy_file(stage, function)] = text
    return files


def configured(config: dict, names: list[str]) -> dict:
    """config.json with every stage naming each function's policy file (other settings kept)."""
    config = json.loads(json.dumps(config))
    for stage in STAGES:
        settings = config["stages"][stage]
        settings.pop("iam_policy_file", None)  # a function without its own file must fail
        functions_ = settings.setdefault("lambda_functions", {})
        for name in names:
            functions_.setdefault(name, {})["iam_policy_file"] = str(policy_file(stage, name))
        settings["lambda_functions"] = dict(sorted(functions_.items()))
    return config


def _config_path(root: Path) -> Path:
    return root / ".chalice" / "config.json"


def stale(root: Path = REPO, scanned: dict[str, set[Grant]] | None = None) -> list[str]:
    """What differs between the committed policies and config.json and the code (empty when in
    step); `scanned` is the scan of that code when the caller has it already."""
    expected = rendered(root, scanned)
    present = set((root / POLICY_DIR).rglob("*.json")) if (root / POLICY_DIR).exists() else set()
    problems = [
        f"{path}: differs from the code"
        for path, text in expected.items()
        if not (root / path).exists() or (root / path).read_text() != text
    ]
    problems += [
        f"{p.relative_to(root)}: no such function"
        for p in present
        if p.relative_to(root) not in expected
    ]
    config = json.loads(_config_path(root).read_text())
    names = sorted({path.stem for path in expected})
    if configured(config, names) != config:
        problems.append(".chalice/config.json: lambda_functions do not name every policy file")
    return sorted(problems)


def write(root: Path = REPO) -> list[Path]:
    for path in (root / POLICY_DIR).rglob("*.json") if (root / POLICY_DIR).exists() else []:
        path.unlink()
    files = rendered(root)
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    config_path = _config_path(root)
    config = configured(json.loads(config_path.read_text()), sorted({path.stem for path in files}))
    config_path.write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n")
    return sorted(files)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 when stale")
    args = parser.parse_args(argv)
    try:
        if args.check:
            problems = stale()
            print(
                "\n".join(problems) or "policies match the code",
                file=sys.stderr if problems else sys.stdout,
            )
            return 1 if problems else 0
        for path in write():
            print(path)
    except ScanError as error:
        print(error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
