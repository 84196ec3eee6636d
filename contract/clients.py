"""Drives every operation of openapi.yaml through clients generated from it by tools we did not
write, against a running server: each call must get the expected status and a response the client
parses into its own generated model (the operation's response model, or `Error`).

    python clients.py --url http://127.0.0.1:8080 --openapi-generator DIR --openapi-python-client DIR

Each DIR holds the generated package (`iot_api_client` and `iot_api_opc`). `cargo xtask test`
generates both, starts the local server and runs this; it prints one line per call and ends with
`N passed, M failed`.
"""

import argparse
import enum
import hashlib
import importlib
import re
import sys
import typing
from pathlib import Path

import yaml


def saved(name):
    """A value an earlier call of the scenario saved (a file id the server chose)."""
    return lambda state: state[name]


def resolve(value, state):
    """`value` with every `saved` value in it filled in."""
    if callable(value):
        return value(state)
    if isinstance(value, dict):
        return {k: resolve(v, state) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, state) for v in value]
    return value


def md5(text):
    return hashlib.md5(text.encode()).hexdigest()


def scenario(p):
    """Every operation, in an order in which each finds what it needs: (operationId, path and
    query parameters by their names in the contract, body or None, expected status, and
    optionally what to save of the reply). Names start with `p`, so that each client works on
    its own resources."""
    group_arn = f"arn:aws:iot:us-east-1:000000000000:thinggroup/{p}floor-1"
    root = md5(f"{p}firmware")
    lamps = md5(f"{root}-{p}lamps")
    firmware = b"lamp firmware 2.1"
    file_ids = lambda reply: {"uploaded": reply.files[0].file_id, "external": reply.files[1].file_id}
    return [
        ("createCategory", {}, {"name": f"{p}firmware", "description": "All firmware"}, 200),
        ("createCategory", {}, {"name": f"{p}lamps", "parentId": root}, 200),
        ("createCategory", {}, {"name": f"{p}firmware"}, 409),
        ("describeCategory", {"categoryId": root}, None, 200),
        ("listCategories", {"parentId": root, "maxResults": 10}, None, 200),
        ("updateCategory", {"categoryId": lamps}, {"description": "Lamps"}, 200),
        ("createFiles", {}, {"files": [
            {"categoryId": lamps, "version": f"{p}2.1", "locale": "en-US",
             "checksum": hashlib.sha256(firmware).hexdigest(), "summary": "Lamp firmware"},
            {"categoryId": lamps, "version": f"{p}0.9", "locale": "en-US", "checksum": md5("old"),
             "checksumType": "md5", "location": "https://downloads.example.com/lamp-0.9.bin"},
        ]}, 200, file_ids),
        ("createFiles", {}, {"files": [{"categoryId": md5("nowhere"), "version": "1", "locale": "en",
                                        "checksum": hashlib.sha256(b"x").hexdigest()}]}, 404),
        ("describeFile", {"fileId": saved("uploaded")}, None, 200),
        ("listFiles", {"state": "DRAFT"}, None, 200),
        ("listFilesInCategory", {"categoryId": lamps, "locale": "en-US"}, None, 200),
        ("findFile", {"checksum": hashlib.sha256(firmware).hexdigest(), "version": f"{p}2.1"}, None, 200),
        ("updateFiles", {}, {"files": [{"fileId": saved("uploaded"), "summary": "Lamp firmware 2.1"}]}, 200),
        ("startFileUpload", {"fileId": saved("uploaded")}, {"size": len(firmware)}, 200),
        ("startMultipartUpload", {"fileId": saved("uploaded")}, {"size": 12 * 2**20, "partSize": 5 * 2**20}, 200),
        ("completeFileUpload", {"fileId": saved("uploaded")}, None, 409),
        ("publishFile", {"fileId": saved("uploaded")}, None, 409),
        ("publishFile", {"fileId": saved("external")}, None, 200),
        ("deprecateFile", {"fileId": saved("external")}, None, 200),
        ("downloadFile", {"fileId": saved("external"), "expiresInSec": 60}, None, 200),
        ("deleteCategory", {"categoryId": lamps}, None, 409),
        ("deleteFiles", {}, {"files": [{"fileId": saved("uploaded")}, {"fileId": saved("external")}]}, 200),
        ("deleteCategory", {"categoryId": lamps}, None, 200),
        ("deleteCategory", {"categoryId": root}, None, 200),
        ("createThingType", {}, {"thingTypeName": f"{p}LightBulb", "searchableAttributes": ["model"]}, 200),
        ("describeThingType", {"thingTypeName": f"{p}LightBulb"}, None, 200),
        ("listThingTypes", {"maxResults": 10}, None, 200),
        ("createThing", {}, {"thingName": f"{p}lamp-1", "thingTypeName": f"{p}LightBulb", "attributes": {"model": "L100"}}, 200),
        ("createThing", {}, {"thingName": f"{p}lamp-2"}, 200),
        ("createThing", {}, {"thingName": f"{p}lamp-1", "attributes": {"model": "other"}}, 409),
        ("listThings", {"thingTypeName": f"{p}LightBulb"}, None, 200),
        ("describeThing", {"thingName": f"{p}lamp-1"}, None, 200),
        ("describeThing", {"thingName": "missing"}, None, 404),
        ("updateThing", {"thingName": f"{p}lamp-1"}, {"attributes": {"watts": "60"}, "merge": True, "expectedVersion": 1}, 200),
        ("updateThing", {"thingName": f"{p}lamp-1"}, {"thingTypeName": None}, 200),
        ("updateThing", {"thingName": f"{p}lamp-1"}, {"thingTypeName": f"{p}LightBulb"}, 200),
        ("createThingGroup", {}, {"thingGroupName": f"{p}floor-1", "thingGroupDescription": "First floor"}, 200),
        ("describeThingGroup", {"thingGroupName": f"{p}floor-1"}, None, 200),
        ("updateThingGroup", {"thingGroupName": f"{p}floor-1"}, {"attributes": {"building": "A"}}, 200),
        ("listThingGroups", {"recursive": True}, None, 200),
        ("addThingToThingGroup", {"thingGroupName": f"{p}floor-1", "thingName": f"{p}lamp-2"}, None, 200),
        ("listThingsInThingGroup", {"thingGroupName": f"{p}floor-1"}, None, 200),
        ("listThingGroupsForThing", {"thingName": f"{p}lamp-2"}, None, 200),
        ("searchThings", {"queryString": f"thingTypeName:{p}LightBulb AND attributes.watts>=60"}, None, 200),
        ("searchThings", {"queryString": "colour=red"}, None, 400),
        ("createDynamicThingGroup", {}, {"thingGroupName": f"{p}lit", "queryString": "shadow.reported.on:true"}, 200),
        ("updateDynamicThingGroup", {"thingGroupName": f"{p}lit"}, {"thingGroupDescription": "Lamps that are on"}, 200),
        ("updateClassicShadow", {"thingName": f"{p}lamp-1"}, {"desired": {"on": True}, "reported": {"on": False}}, 200),
        ("getClassicShadow", {"thingName": f"{p}lamp-1"}, None, 200),
        ("updateNamedShadow", {"thingName": f"{p}lamp-1", "shadowName": "config"}, {"reported": {"mode": "eco"}}, 200),
        ("getNamedShadow", {"thingName": f"{p}lamp-1", "shadowName": "config"}, None, 200),
        ("listNamedShadows", {"thingName": f"{p}lamp-1"}, None, 200),
        ("deleteNamedShadow", {"thingName": f"{p}lamp-1", "shadowName": "config"}, None, 200),
        ("deleteClassicShadow", {"thingName": f"{p}lamp-1"}, None, 200),
        ("createJobTemplate", {}, {"jobTemplateId": f"{p}reboot", "description": "Reboot", "document": '{"operation":"reboot"}'}, 200),
        ("describeJobTemplate", {"jobTemplateId": f"{p}reboot"}, None, 200),
        ("listJobTemplates", {}, None, 200),
        ("createJob", {}, {"jobId": f"{p}fw-2-1", "targets": [f"{p}lamp-1", group_arn], "targetSelection": "CONTINUOUS",
                           "document": '{"version":"2.1"}'}, 200),
        ("createJob", {}, {"targets": [f"{p}lamp-1"], "document": "not JSON"}, 422),
        ("describeJob", {"jobId": f"{p}fw-2-1"}, None, 200),
        ("listJobs", {"status": "IN_PROGRESS"}, None, 200),
        ("updateJob", {"jobId": f"{p}fw-2-1"}, {"description": "Firmware 2.1"}, 200),
        ("getJobDocument", {"jobId": f"{p}fw-2-1"}, None, 200),
        ("listJobExecutionsForJob", {"jobId": f"{p}fw-2-1", "status": "QUEUED"}, None, 200),
        ("listJobExecutionsForThing", {"thingName": f"{p}lamp-2"}, None, 200),
        ("describeJobExecution", {"jobId": f"{p}fw-2-1", "thingName": f"{p}lamp-1"}, None, 200),
        ("associateTargetsWithJob", {"jobId": f"{p}fw-2-1"}, {"targets": [f"{p}lamp-2"]}, 200),
        ("cancelJobExecution", {"jobId": f"{p}fw-2-1", "thingName": f"{p}lamp-1"}, {"statusDetails": {"reason": "operator"}}, 200),
        ("deleteJobExecution", {"jobId": f"{p}fw-2-1", "thingName": f"{p}lamp-1", "executionNumber": 1}, None, 200),
        ("deleteJob", {"jobId": f"{p}fw-2-1"}, None, 409),
        ("cancelJob", {"jobId": f"{p}fw-2-1"}, {"comment": "superseded", "reasonCode": "SUPERSEDED"}, 200),
        ("deleteJob", {"jobId": f"{p}fw-2-1", "force": True}, None, 200),
        ("deleteJobTemplate", {"jobTemplateId": f"{p}reboot"}, None, 200),
        ("removeThingFromThingGroup", {"thingGroupName": f"{p}floor-1", "thingName": f"{p}lamp-2"}, None, 200),
        ("deleteDynamicThingGroup", {"thingGroupName": f"{p}lit"}, None, 200),
        ("deleteThingGroup", {"thingGroupName": f"{p}floor-1"}, None, 200),
        ("deleteThing", {"thingName": f"{p}lamp-1"}, None, 200),
        ("deleteThing", {"thingName": f"{p}lamp-2"}, None, 200),
        ("deleteThingType", {"thingTypeName": f"{p}LightBulb"}, None, 409),
        ("deprecateThingType", {"thingTypeName": f"{p}LightBulb"}, None, 200),
        ("undeprecateThingType", {"thingTypeName": f"{p}LightBulb"}, None, 200),
    ]


def snake(name):
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).replace("-", "_").lower()


def camel(name):
    return "".join(part.capitalize() for part in re.split(r"[-_]", name))


class Contract:
    """What the scenario needs of openapi.yaml: each operation's tag and request body model."""

    def __init__(self, path):
        self.operations = {}
        spec = yaml.safe_load(Path(path).read_text())
        for item in spec["paths"].values():
            for method, operation in item.items():
                if method == "parameters":
                    continue
                body = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
                ref = body.get("schema", {}).get("$ref", "")
                self.operations[operation["operationId"]] = (operation["tags"][0], ref.rsplit("/", 1)[-1] or None)


class OpenApiGenerator:
    """openapi-generator's `python` client: one Api class per tag, pydantic models."""

    name = "openapi-generator python"

    def __init__(self, url):
        import iot_api_client as package

        self.package = package
        self.client = package.ApiClient(package.Configuration(host=url))

    def call(self, operation, tag, body_model, params, body):
        api = getattr(self.package, camel(tag) + "Api")(self.client)
        kwargs = {snake(k): v for k, v in params.items()}
        if body is not None:
            kwargs[snake(body_model)] = getattr(self.package, body_model).from_dict(body)
        try:
            reply = getattr(api, snake(operation) + "_with_http_info")(**kwargs)
            return reply.status_code, reply.data
        except self.package.ApiException as error:
            parsed = error.data if error.data is not None else self.package.Error.from_json(error.body)
            return error.status, parsed

    def is_model(self, value):
        from pydantic import BaseModel

        return isinstance(value, BaseModel) and type(value).__module__.startswith("iot_api_client.models")


def enum_of(hint, value):
    """`value` as the generated enum a parameter takes, when it takes one."""
    for kind in typing.get_args(hint) or (hint,):
        if isinstance(kind, type) and issubclass(kind, enum.Enum):
            return kind(value)
    return value


class OpenApiPythonClient:
    """openapi-python-client: one module per operation, attrs models."""

    name = "openapi-python-client"

    def __init__(self, url):
        import iot_api_opc as package

        self.package = package
        self.client = package.Client(base_url=url, raise_on_unexpected_status=True)

    def call(self, operation, tag, body_model, params, body):
        module = importlib.import_module(f"iot_api_opc.api.{snake(tag)}.{snake(operation)}")
        hints = typing.get_type_hints(module.sync_detailed)
        kwargs = {snake(k): enum_of(hints[snake(k)], v) for k, v in params.items()}
        if body is not None:
            kwargs["body"] = getattr(importlib.import_module("iot_api_opc.models"), body_model).from_dict(body)
        reply = module.sync_detailed(client=self.client, **kwargs)
        return int(reply.status_code), reply.parsed

    def is_model(self, value):
        return type(value).__module__.startswith("iot_api_opc.models")


def run(client, contract, prefix):
    passed = failed = 0
    state = {}
    for operation, params, body, expected, *save in scenario(prefix):
        tag, body_model = contract.operations[operation]
        try:
            params, body = resolve(params, state), resolve(body, state)
            status, parsed = client.call(operation, tag, body_model, params, body)
            problem = None
            if save and status == expected:
                state.update(save[0](parsed))
            if status != expected:
                problem = f"status {status}, expected {expected}: {parsed!r}"
            elif not client.is_model(parsed):
                problem = f"the reply was not parsed into a generated model: {parsed!r}"
            elif expected >= 400 and type(parsed).__name__ != "Error":
                problem = f"the error was parsed as {type(parsed).__name__}, not Error"
        except Exception as error:  # a client that cannot make or read the call is a failure
            problem = f"{type(error).__name__}: {error}"
        if problem:
            failed += 1
            print(f"FAIL {client.name}: {operation} {params} -> {problem}")
        else:
            passed += 1
            print(f"ok   {client.name}: {operation} {params} -> {expected}")
    return passed, failed


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True, help="the server's base URL")
    parser.add_argument("--openapi", default=str(Path(__file__).parent.parent / "openapi.yaml"))
    parser.add_argument("--openapi-generator", required=True, help="folder holding iot_api_client")
    parser.add_argument("--openapi-python-client", required=True, help="folder holding iot_api_opc")
    args = parser.parse_args()
    sys.path[:0] = [args.openapi_generator, args.openapi_python_client]
    contract = Contract(args.openapi)
    covered = {step[0] for step in scenario("")}
    missing = sorted(set(contract.operations) - covered)
    if missing:
        print(f"FAIL the scenario leaves out {', '.join(missing)}")
    passed = failed = 0
    for prefix, kind in (("g-", OpenApiGenerator), ("c-", OpenApiPythonClient)):
        p, f = run(kind(args.url), contract, prefix)
        passed, failed = passed + p, failed + f
    failed += len(missing)
    print(f"\n{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
