"""Rules of openapi.yaml that OpenAPI 3.0 cannot state in a schema, taught to schemathesis.

Each rule here is written in the description of the field it concerns in openapi.yaml, and the
server refuses a request that breaks it with a 4xx naming the field. Schemathesis generates data
from the schema alone, so without these hooks a request it believes valid would break a rule it
cannot read. The hooks touch positive cases only (data meant to be valid), and only to make them
keep these documented rules; negative cases go to the server as generated.
"""

import datetime
import json
import re

import schemathesis

ATTRIBUTE_NAME = re.compile(r"[^a-zA-Z0-9_.,@/:#-]")
DETAIL_NAME = re.compile(r"[^a-zA-Z0-9:_-]")
QUERY_VALUE = re.compile(r"[^a-zA-Z0-9_.,@/#=:+-]")
MAX_DOCUMENT_BYTES = 32 * 1024

# Operations whose body carries `attributes`.
WITH_ATTRIBUTES = {
    ("POST", "/things"),
    ("PUT", "/things/{thingName}"),
    ("POST", "/thing-groups"),
    ("PUT", "/thing-groups/{thingGroupName}"),
    ("POST", "/dynamic-thing-groups"),
    ("PUT", "/dynamic-thing-groups/{thingGroupName}"),
}
WITH_DOCUMENT = {("POST", "/jobs"), ("POST", "/job-templates")}
WITH_QUERY_BODY = {
    ("POST", "/dynamic-thing-groups"),
    ("PUT", "/dynamic-thing-groups/{thingGroupName}"),
}


def names(mapping, forbidden, limit):
    """The map with each name made to keep the rule (1 to 128 allowed characters, at most `limit`
    names), keeping its values."""
    fixed = {}
    for i, (name, value) in enumerate(mapping.items()):
        if len(fixed) == limit:
            break
        name = forbidden.sub("", name)[:120] or "n"
        while name in fixed:
            name = f"{name[:120]}{i}"
        fixed[name] = value
    return fixed


def query(text):
    """A query of the supported subset made from generated text: one `thingName` term."""
    value = QUERY_VALUE.sub("", text)[:1000] or "x"
    return f"thingName:{value}"


def document(text):
    """A JSON text of at most 32 KB made from generated text."""
    try:
        json.loads(text)
        if len(text.encode()) <= MAX_DOCUMENT_BYTES:
            return text
    except ValueError:
        pass
    text = text[: MAX_DOCUMENT_BYTES // 8]
    while len(json.dumps(text).encode()) > MAX_DOCUMENT_BYTES:
        text = text[: len(text) // 2]
    return json.dumps(text)


HEX_DIGITS = {"md5": 32, "crc32": 8, "sha1": 40, "sha256": 64}


def new_files(files):
    """Files to register as the catalog's rules want them: a checksum as long as its type says,
    sha256 unless the file has an external location, and each (checksum, version) once."""
    fixed, seen = [], set()
    for i, item in enumerate(files):
        if not isinstance(item, dict):
            fixed.append(item)
            continue
        item = dict(item)
        kind = item.get("checksumType", "sha256")
        if "location" not in item:
            kind = item["checksumType"] = "sha256"
        checksum = str(item.get("checksum", ""))[: HEX_DIGITS.get(kind, 64)]
        item["checksum"] = checksum.ljust(HEX_DIGITS.get(kind, 64), "0")
        while (item["checksum"], item.get("version")) in seen:
            item["version"] = f"{str(item.get('version', 'v'))[:60]}.{i}"
        seen.add((item["checksum"], item.get("version")))
        fixed.append(item)
    return fixed


def once_per_file(files):
    """Each file of a batch named once."""
    fixed, seen = [], set()
    for item in files:
        key = item.get("fileId") if isinstance(item, dict) else None
        if key not in seen:
            seen.add(key)
            fixed.append(item)
    return fixed


def whole_minute(moment):
    return moment.replace(second=0, microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def scheduling(config):
    """startTime at least 30 minutes ahead, endTime 30 minutes after it (when there is an end or
    an end behavior), both whole minutes."""
    start = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)
    config = dict(config)
    config["startTime"] = whole_minute(start)
    if "endTime" in config or "endBehavior" in config:
        config["endTime"] = whole_minute(start + datetime.timedelta(hours=1))
    return config


@schemathesis.hook
def map_case(context, case):
    meta = case.meta
    if meta is not None and not meta.generation.mode.is_positive:
        return case
    operation = (case.method.upper(), case.path)
    body = case.body
    if isinstance(body, dict):
        body = dict(body)
        if operation in WITH_ATTRIBUTES and isinstance(body.get("attributes"), dict):
            # A thing without a type has at most 3 attributes.
            untyped = operation == ("POST", "/things") and "thingTypeName" not in body
            body["attributes"] = names(body["attributes"], ATTRIBUTE_NAME, 3 if untyped else 50)
        if isinstance(body.get("statusDetails"), dict):
            body["statusDetails"] = names(body["statusDetails"], DETAIL_NAME, 10)
        if operation in WITH_DOCUMENT:
            if isinstance(body.get("document"), str):
                body["document"] = document(body["document"])
            elif "document" not in body and "jobTemplateId" not in body:
                # A job needs a document unless it is made from a template.
                body["document"] = "{}"
        if operation in WITH_QUERY_BODY and isinstance(body.get("queryString"), str):
            body["queryString"] = query(body["queryString"])
        if isinstance(body.get("schedulingConfig"), dict):
            body["schedulingConfig"] = scheduling(body["schedulingConfig"])
        if operation == ("POST", "/files") and isinstance(body.get("files"), list):
            body["files"] = new_files(body["files"])
        if operation in {("PUT", "/files"), ("DELETE", "/files")} and isinstance(body.get("files"), list):
            body["files"] = once_per_file(body["files"])
        if operation == ("POST", "/files/by-id/{fileId}/multipart-upload"):
            # At most 1,000 parts: the size fits in 1,000 parts of the size asked for.
            if isinstance(body.get("size"), int) and isinstance(body.get("partSize"), int):
                body["size"] = min(body["size"], body["partSize"] * 1000)
        case.body = body
    if case.query:
        params = dict(case.query)
        if operation == ("GET", "/things/search") and isinstance(params.get("queryString"), str):
            params["queryString"] = query(params["queryString"])
        if operation == ("GET", "/things"):
            # attributeName and attributeValue come together or not at all.
            if "attributeName" in params and "attributeValue" not in params:
                params["attributeValue"] = "v"
            if "attributeValue" in params and "attributeName" not in params:
                params["attributeName"] = "n"
        case.query = params
    return case


@schemathesis.hook
def filter_failure(context, failure, case, response):
    """A 404 after a create names the created resource only when it names no field of the body:
    `PUT /things/{name}` with a `thingTypeName` that does not exist is a 404 naming
    `thingTypeName`, while the thing itself was found. Such a failure of the "created resource
    not found" check is dropped; every other failure stands."""
    if failure.code != "ST302" or not isinstance(case.body, dict):
        return True
    try:
        message = response.json()["error"]
    except (ValueError, KeyError, TypeError):
        return True
    field = message.split(":", 1)[0]
    return field not in case.body
