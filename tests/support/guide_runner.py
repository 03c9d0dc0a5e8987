"""Runs the marked blocks of docs/integration*.md, so the guide cannot rot.

A block is marked by an HTML comment on the line before its fence:

    <!-- guide:file NAME -->    a file the commands use (`file://NAME`, `--file NAME`)
    <!-- guide:run -->          shell commands, run in order (below)
    <!-- guide:response CODE --> the answer to the last command: its status, and a JSON body of
                                the same shape (keys and value types) as the real one
    <!-- guide:event NAME -->   a message on the events topic, compared the same way
    <!-- guide:python -->       Python the shop runs; executed, then its functions are tested

Commands are what a shop runs: `curl` (sent through chalice.test.Client), `aws <service>
<operation> --option value …` (the same call through boto3 on moto; every option must be a
member of the operation's input in botocore's model, named as the AWS CLI names it) and
`python -m infra.channels …`; `NAME=$(command)` keeps an output in a variable, with `| jq -r
.field` after curl and `--query A.B --output text` after aws. `$NAME` is expanded in commands
and in files.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore import xform_name

_BLOCK = re.compile(r"<!-- guide:(\w+)(?: ([^>]*?))? -->\n```(\w+)\n(.*?)\n```", re.S)
_ASSIGNMENT = re.compile(r"^(\w+)=\$\((.*)\)$", re.S)
_VARIABLE = re.compile(r"\$\{?(\w+)\}?")
# The AWS CLI's own names for a few parameters (awscli/customizations/argrename.py)
_CLI_RENAMES = {("sns", "subscribe", "notification-endpoint"): "Endpoint"}


@dataclass(frozen=True)
class Block:
    kind: str
    arg: str
    lang: str
    text: str


def blocks(path: Path) -> list[Block]:
    return [
        Block(kind, (arg or "").strip(), lang, text)
        for kind, arg, lang, text in _BLOCK.findall(path.read_text(encoding="utf-8"))
    ]


def commands(text: str) -> list[str]:
    """The logical commands of a shell block: continuation lines and lines inside quotes joined,
    comments dropped."""
    found, pending = [], ""
    for line in re.sub(r"\\\n\s*", " ", text).splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending = f"{pending}\n{line}" if pending else line.strip()
        if _complete(pending):
            found.append(pending)
            pending = ""
    assert not pending, f"unterminated command: {pending}"
    return found


def _complete(command: str) -> bool:
    try:
        shlex.split(command)
    except ValueError:
        return False
    return True


def shape(value: Any) -> Any:
    """Keys and value types, recursively: what an example must share with the real thing."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(item) for item in value[:1]]
    return type(value).__name__


@dataclass
class Answer:
    status: int
    body: Any


@dataclass
class Runner:
    api: Any  # tests.integration.conftest.Api
    folder: Path  # where files named by the guide are written
    variables: dict[str, str]
    files: dict[str, str] = field(default_factory=dict)
    fill_file: Callable[[str, str], str] = lambda name, text: text
    last: Answer | None = None

    def expand(self, text: str) -> str:
        return _VARIABLE.sub(lambda m: self.variables.get(m.group(1), m.group(0)), text)

    def file(self, name: str) -> Path:
        path = self.folder / name
        path.write_text(self.fill_file(name, self.expand(self.files[name])), encoding="utf-8")
        return path

    def run(self, command: str) -> Answer:
        assignment = _ASSIGNMENT.match(command)
        line = assignment.group(2) if assignment else command
        program, _, pipe = (part.strip() for part in line.partition(" | "))
        words = shlex.split(self.expand(program))
        answer = {"curl": self._curl, "aws": self._aws, "python": self._python}[words[0]](words[1:])
        self.last = answer  # what a response block shows: the whole answer, before any filter
        output = _jq(pipe, answer.body) if pipe else answer.body
        if assignment:
            self.variables[assignment.group(1)] = str(output)
        return answer

    # ------------------------------------------------------------------ curl

    def _curl(self, words: list[str]) -> Answer:
        method, headers, data, url = "GET", {}, None, None
        options = iter(words)
        for word in options:
            if word == "-s":
                continue
            if word == "-X":
                method = next(options)
            elif word == "-H":
                name, _, value = next(options).partition(":")
                headers[name.strip()] = value.strip()
            elif word == "-d":
                data = next(options)
                method = "POST" if method == "GET" else method
            elif word.startswith(self.variables["API"]):
                url = word
            else:
                raise AssertionError(f"curl {word!r} is not understood by the guide's runner")
        assert url, "curl without a $API URL"
        path = url.removeprefix(self.variables["API"])
        response = self.api.client.http.request(
            method, path, headers=headers, body=(data or "").encode()
        )
        return Answer(response.status_code, json.loads(response.body) if response.body else None)

    # ------------------------------------------------------------------ aws

    def _aws(self, words: list[str]) -> Answer:
        service, operation, options = words[0], words[1], words[2:]
        query, output = _take(options, "--query"), _take(options, "--output")
        client = boto3.client(service)
        model = client.meta.service_model.operation_model(_operation_name(client, operation))
        params = self._aws_params(service, operation, model.input_shape.members, options)
        body = getattr(client, xform_name(model.name))(**params)
        if query:
            for part in query.split("."):
                body = body[part]
        assert output in (None, "text", "json"), output
        return Answer(200, body)

    def _aws_params(self, service: str, operation: str, members: dict, options: list[str]) -> dict:
        params: dict[str, Any] = {}
        names = {xform_name(member, "-"): member for member in members}
        index = 0
        while index < len(options):
            option = options[index].removeprefix("--")
            member = _CLI_RENAMES.get((service, operation, option)) or names.get(option)
            assert member, f"aws {service} {operation}: no option --{option} (botocore's model)"
            values = []
            index += 1
            while index < len(options) and not options[index].startswith("--"):
                values.append(options[index])
                index += 1
            params[member] = self._aws_value(members[member].type_name, values)
        return params

    def _aws_value(self, kind: str, values: list[str]) -> Any:
        if kind == "list":
            return values
        (value,) = values
        if value.startswith("file://"):
            value = self.file(value.removeprefix("file://")).read_text(encoding="utf-8")
        return json.loads(value) if kind in ("map", "structure") else value

    # ------------------------------------------------------------------ python -m

    def _python(self, words: list[str]) -> Answer:
        assert words[:2] == ["-m", "infra.channels"], (
            f"python {' '.join(words)} is not a command of the guide"
        )
        from infra import channels

        args = words[2:]
        for index, word in enumerate(args[:-1]):
            if word == "--file":
                args[index + 1] = str(self.file(args[index + 1]))
        return Answer(channels.main(args), None)


def _operation_name(client, cli_name: str) -> str:
    for name in client.meta.service_model.operation_names:
        if xform_name(name, "-") == cli_name:
            return name
    raise AssertionError(f"no operation {cli_name}")


def _take(options: list[str], name: str) -> str | None:
    if name not in options:
        return None
    index = options.index(name)
    value = options[index + 1]
    del options[index : index + 2]
    return value


def _jq(pipe: str, body: Any) -> Any:
    words = shlex.split(pipe)
    assert words[:2] == ["jq", "-r"] and words[2].startswith("."), (
        f"only `jq -r .field` is run: {pipe}"
    )
    for part in words[2].strip(".").split("."):
        body = body[part]
    return body
