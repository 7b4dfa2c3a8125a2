"""Every request member of botocore's Lambda model is honoured or refused by name.

lamina's rule: what it does not emulate answers an error naming it, never a silent success.
This walks the Lambda model of the botocore installed here:
  * an operation lamina does not emulate answers 501 NotImplementedException naming it
    (never 404 UnknownOperation), whatever members it carries;
  * for an operation lamina emulates, every request member is either listed in HONOURED
    below (each is exercised by the test file named next to its operation) or refused
    with a 400 whose message names it.
When botocore gains an operation or a member, this test fails until lamina handles it
(and it is added to HONOURED) or refuses it by name."""
from __future__ import annotations

import datetime

import botocore.session
from botocore import xform_name
import pytest

import lamina_testlib as lt

MODEL = botocore.session.get_session().get_service_model("lambda")

# Operation -> request members (other than path members) lamina honours, where that is tested.
# Some are honoured for the values lamina emulates and refused by name for the others
# (VpcConfig with subnets, FileSystemConfigs,
# SnapStart PublishedVersions on runtimes lamina cannot snapshot, the stream/Kafka members of event source mappings).
HONOURED: dict[str, set[str]] = {
    # test_functions.py, test_bad_input.py, test_logging_config.py, test_layers.py
    "CreateFunction": {"FunctionName", "Runtime", "Role", "Handler", "Code", "Description",
                       "Timeout", "MemorySize", "Publish", "VpcConfig", "PackageType",
                       "DeadLetterConfig", "Environment", "KMSKeyArn", "TracingConfig", "Tags",
                       "Layers", "FileSystemConfigs", "ImageConfig", "Architectures",
                       "EphemeralStorage", "SnapStart", "LoggingConfig",
                       "TenancyConfig"},  # test_tenancy.py
    "UpdateFunctionConfiguration": {"Role", "Handler", "Description", "Timeout", "MemorySize",
                                    "VpcConfig", "Environment", "Runtime", "DeadLetterConfig",
                                    "KMSKeyArn", "TracingConfig", "RevisionId", "Layers",
                                    "FileSystemConfigs", "ImageConfig", "EphemeralStorage",
                                    "SnapStart", "LoggingConfig"},
    "UpdateFunctionCode": {"ZipFile", "S3Bucket", "S3Key", "S3ObjectVersion", "ImageUri",
                           "Publish", "DryRun", "RevisionId", "Architectures"},
    "ListFunctions": {"FunctionVersion", "Marker", "MaxItems"},
    "GetFunction": {"Qualifier"},
    "GetFunctionConfiguration": {"Qualifier"},
    "DeleteFunction": {"Qualifier"},
    "GetAccountSettings": set(),
    "GetFunctionCodeSigningConfig": set(),
    # test_versions_aliases.py
    "PublishVersion": {"CodeSha256", "Description", "RevisionId"},
    "ListVersionsByFunction": {"Marker", "MaxItems"},
    "CreateAlias": {"Name", "FunctionVersion", "Description", "RoutingConfig"},
    "UpdateAlias": {"FunctionVersion", "Description", "RoutingConfig", "RevisionId"},
    "GetAlias": set(),
    "DeleteAlias": set(),
    "ListAliases": {"FunctionVersion", "Marker", "MaxItems"},
    # test_policy_tags_configs.py
    "AddPermission": {"StatementId", "Action", "Principal", "SourceArn", "SourceAccount",
                      "EventSourceToken", "Qualifier", "RevisionId", "PrincipalOrgID",
                      "FunctionUrlAuthType", "InvokedViaFunctionUrl"},
    "GetPolicy": {"Qualifier"},
    "RemovePermission": {"Qualifier", "RevisionId"},
    "TagResource": {"Tags"},
    "UntagResource": {"TagKeys"},
    "ListTags": set(),
    "PutFunctionEventInvokeConfig": {"Qualifier", "MaximumRetryAttempts",
                                     "MaximumEventAgeInSeconds", "DestinationConfig"},
    "UpdateFunctionEventInvokeConfig": {"Qualifier", "MaximumRetryAttempts",
                                        "MaximumEventAgeInSeconds", "DestinationConfig"},
    "GetFunctionEventInvokeConfig": {"Qualifier"},
    "DeleteFunctionEventInvokeConfig": {"Qualifier"},
    "ListFunctionEventInvokeConfigs": {"Marker", "MaxItems"},
    "GetRuntimeManagementConfig": {"Qualifier"},
    "PutRuntimeManagementConfig": {"Qualifier", "UpdateRuntimeOn", "RuntimeVersionArn"},
    "GetFunctionRecursionConfig": set(),
    "PutFunctionRecursionConfig": {"RecursiveLoop"},
    # test_concurrency.py, test_provisioned.py
    "GetFunctionConcurrency": set(),
    "PutFunctionConcurrency": {"ReservedConcurrentExecutions"},
    "DeleteFunctionConcurrency": set(),
    "PutProvisionedConcurrencyConfig": {"Qualifier", "ProvisionedConcurrentExecutions"},
    "GetProvisionedConcurrencyConfig": {"Qualifier"},
    "DeleteProvisionedConcurrencyConfig": {"Qualifier"},
    "ListProvisionedConcurrencyConfigs": {"Marker", "MaxItems"},
    # test_function_urls.py
    "CreateFunctionUrlConfig": {"Qualifier", "AuthType", "Cors", "InvokeMode"},
    "UpdateFunctionUrlConfig": {"Qualifier", "AuthType", "Cors", "InvokeMode"},
    "GetFunctionUrlConfig": {"Qualifier"},
    "DeleteFunctionUrlConfig": {"Qualifier"},
    "ListFunctionUrlConfigs": {"Marker", "MaxItems"},
    # test_esm.py, test_sqs.py (stream, Kafka, MQ and DocumentDB members refused by name)
    "CreateEventSourceMapping": {"EventSourceArn", "FunctionName", "Enabled", "BatchSize",
                                 "FilterCriteria", "MaximumBatchingWindowInSeconds",
                                 "ParallelizationFactor", "StartingPosition",
                                 "StartingPositionTimestamp", "DestinationConfig",
                                 "MaximumRecordAgeInSeconds", "BisectBatchOnFunctionError",
                                 "MaximumRetryAttempts", "Tags", "TumblingWindowInSeconds",
                                 "Topics", "Queues", "SourceAccessConfigurations",
                                 "SelfManagedEventSource", "FunctionResponseTypes",
                                 "AmazonManagedKafkaEventSourceConfig",
                                 "SelfManagedKafkaEventSourceConfig", "ScalingConfig",
                                 "DocumentDBEventSourceConfig", "ProvisionedPollerConfig"},
    "UpdateEventSourceMapping": {"FunctionName", "Enabled", "BatchSize", "FilterCriteria",
                                 "MaximumBatchingWindowInSeconds", "DestinationConfig",
                                 "MaximumRecordAgeInSeconds", "BisectBatchOnFunctionError",
                                 "MaximumRetryAttempts", "ParallelizationFactor",
                                 "SourceAccessConfigurations", "TumblingWindowInSeconds",
                                 "FunctionResponseTypes", "ScalingConfig",
                                 "AmazonManagedKafkaEventSourceConfig",
                                 "SelfManagedKafkaEventSourceConfig",
                                 "DocumentDBEventSourceConfig", "ProvisionedPollerConfig"},
    "GetEventSourceMapping": set(),
    "DeleteEventSourceMapping": set(),
    "ListEventSourceMappings": {"EventSourceArn", "FunctionName", "Marker", "MaxItems"},
    # test_layers.py
    "PublishLayerVersion": {"Description", "Content", "CompatibleRuntimes", "LicenseInfo",
                            "CompatibleArchitectures"},
    "ListLayerVersions": {"CompatibleRuntime", "Marker", "MaxItems", "CompatibleArchitecture"},
    "ListLayers": {"CompatibleRuntime", "Marker", "MaxItems", "CompatibleArchitecture"},
    "GetLayerVersion": set(),
    "DeleteLayerVersion": set(),
    "GetLayerVersionByArn": {"Arn"},
    "AddLayerVersionPermission": {"StatementId", "Action", "Principal", "OrganizationId",
                                  "RevisionId"},
    "GetLayerVersionPolicy": set(),
    "RemoveLayerVersionPermission": {"RevisionId"},
    # test_invoke.py, test_async.py, test_streaming.py
    "Invoke": {"InvocationType", "LogType", "ClientContext", "Payload", "Qualifier",
               "TenantId"},  # test_tenancy.py
    "InvokeAsync": {"InvokeArgs"},
    "InvokeWithResponseStream": {"InvocationType", "LogType", "ClientContext", "Qualifier",
                                 "Payload", "TenantId"},
}

# What the issue names explicitly: these must stay refused (not silently honoured either).
MUST_REFUSE = {
    ("CreateFunction", "DurableConfig"),
    ("CreateFunction", "CapacityProviderConfig"), ("CreateFunction", "PublishTo"),
    ("UpdateFunctionConfiguration", "DurableConfig"),
    ("UpdateFunctionConfiguration", "CapacityProviderConfig"), ("PublishVersion", "PublishTo"),
}


def path_members(op: str) -> dict:
    shape = MODEL.operation_model(op).input_shape
    if shape is None:
        return {}
    return {k: path_value(k) for k, v in shape.members.items()
            if v.serialization.get("location") == "uri"}


def path_value(name: str):
    return {"VersionNumber": 1, "UUID": "00000000-0000-0000-0000-000000000000"}.get(
        name, "model-walk-" + name.lower())


def plausible(shape, depth: int = 0):
    """A value of `shape` botocore will serialize; structures empty (present, not null)."""
    t = shape.type_name
    if t == "string":
        return shape.enum[0] if shape.enum else "x"
    if t in ("integer", "long"):
        return 1
    if t in ("double", "float"):
        return 1.0
    if t == "boolean":
        return True
    if t == "blob":
        return b"{}"
    if t == "timestamp":
        return datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc)
    if t == "list":
        return [plausible(shape.member, depth + 1)]
    if t == "map":
        return {"k": plausible(shape.value, depth + 1)}
    return {}


def call(client, op: str, params: dict):
    """(status, error code, message) of one call; (status, "", "") on success."""
    method = getattr(client, xform_name(op))
    try:
        resp = method(**params)
        return resp["ResponseMetadata"]["HTTPStatusCode"], "", ""
    except client.exceptions.ClientError as e:
        err = e.response.get("Error", {})
        return (e.response["ResponseMetadata"]["HTTPStatusCode"], err.get("Code", ""),
                err.get("Message", ""))


def test_every_model_operation_is_routed(lam_nv):
    """Operations lamina does not emulate answer 501 naming them; none answers 404
    UnknownOperation (botocore's model and lamina's routes agree)."""
    unknown, unnamed = [], []
    for op in MODEL.operation_names:
        status, code, message = call(lam_nv, op, path_members(op))
        if code == "UnknownOperationException":
            unknown.append(op)
        elif op not in HONOURED:
            if status != 501 or code != "NotImplementedException" or op not in message:
                unnamed.append((op, status, code, message))
    assert not unknown, f"lamina does not route these operations of the model: {unknown}"
    assert not unnamed, ("operations not in HONOURED must answer 501 NotImplementedException "
                         f"naming the operation: {unnamed}")


def test_every_member_is_honoured_or_refused_by_name(lam_nv):
    silent = []
    refused = set()
    for op in MODEL.operation_names:
        if op not in HONOURED:
            continue  # refused whole, above
        shape = MODEL.operation_model(op).input_shape
        if shape is None:
            continue
        for name, member in shape.members.items():
            if member.serialization.get("location") == "uri" or name in HONOURED[op]:
                continue
            params = path_members(op)
            params[name] = plausible(member)
            status, code, message = call(lam_nv, op, params)
            if status in (400, 501) and name in message and "lamina does not emulate" in message:
                refused.add((op, name))
            else:
                silent.append((op, name, status, code, message))
    assert not silent, ("request members neither listed in HONOURED nor refused with an error "
                        f"naming them: {silent}")
    assert MUST_REFUSE <= refused, MUST_REFUSE - refused


def test_refused_create_changes_nothing(lam, lam_nv):
    name = lt.unique("walk")
    base = dict(FunctionName=name, Runtime=lt.RUNTIME, Role=lt.ROLE_ARN, Handler=lt.HANDLER,
                Code={"ZipFile": lt.handler_zip()})
    for extra, word in [({"DurableConfig": {"ExecutionTimeout": 60}}, "DurableConfig"),
                        ({"Code": {"ZipFile": lt.handler_zip(), "SourceKMSKeyArn":
                                   "arn:aws:kms:us-east-1:123456789012:key/k"}},
                         "SourceKMSKeyArn")]:
        status, code, message = call(lam_nv, "CreateFunction", {**base, **extra})
        assert (status, code) == (400, "InvalidParameterValueException"), message
        assert word in message and "lamina does not emulate" in message
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function(FunctionName=name)
    # what lamina does emulate still works, and SnapStart None is accepted as AWS's default
    lam_nv.create_function(**base, SnapStart={"ApplyOn": "None"})
    cfg = lam.get_function_configuration(FunctionName=name)
    assert cfg["SnapStart"] == {"ApplyOn": "None", "OptimizationStatus": "Off"}
    # SnapStart on a runtime lamina cannot snapshot (test_snapstart.py has the rest)
    status, code, message = call(lam_nv, "UpdateFunctionConfiguration",
                                 {"FunctionName": name, "Runtime": "dotnet8", "Handler": "A::B.C::D",
                                  "SnapStart": {"ApplyOn": "PublishedVersions"}})
    assert status == 400 and "SnapStart" in message
    status, code, message = call(lam_nv, "PublishVersion",
                                 {"FunctionName": name, "PublishTo": "LATEST_PUBLISHED"})
    assert status == 400 and "PublishTo" in message
    assert lam.list_versions_by_function(FunctionName=name)["Versions"][-1]["Version"] == "$LATEST"
    # a function without tenant isolation refuses a tenant id (test_tenancy.py)
    status, code, message = call(lam_nv, "Invoke", {"FunctionName": name, "TenantId": "t1"})
    assert (status, code) == (400, "InvalidParameterValueException")
    assert "tenant" in message


def _elf_header(machine: int) -> bytes:
    # a minimal little-endian 64-bit ELF header (enough for lamina's check): e_machine at 18
    return b"\x7fELF\x02\x01\x01" + b"\x00" * 11 + machine.to_bytes(2, "little") + b"\x00" * 44


def test_arm64_functions_on_this_host(lam):
    """lamina runs code natively: an arm64 function runs on an x86_64 host only when its
    runtime is an interpreter and its code has no native arm64 files."""
    import platform
    if platform.machine() not in ("x86_64", "AMD64"):
        pytest.skip("the check is for x86_64 hosts")
    pure = lt.unique("arm")
    lt.create_function(lam, pure, Architectures=["arm64"])
    r = lam.invoke(FunctionName=pure, Payload=b"{}")
    assert "FunctionError" not in r, r["Payload"].read()

    native = lt.unique("arm")
    code = lt.make_zip({"handler.py": _handler_source(), "lib/_speedups.so": _elf_header(183)})
    lt.create_function(lam, native, zip_bytes=code, Architectures=["arm64"])
    r = lam.invoke(FunctionName=native, Payload=b"{}")
    body = r["Payload"].read().decode()
    assert r.get("FunctionError") == "Unhandled", body
    assert "Runtime.Unavailable" in body and "arm64" in body and "lib/_speedups.so" in body

    custom = lt.unique("arm")
    lt.create_function(lam, custom, Runtime="provided.al2023", Handler="bootstrap",
                       zip_bytes=lt.make_zip({"bootstrap": _elf_header(183)}),
                       Architectures=["arm64"])
    r = lam.invoke(FunctionName=custom, Payload=b"{}")
    body = r["Payload"].read().decode()
    assert r.get("FunctionError") == "Unhandled", body
    assert "arm64" in body and "provided.al2023" in body, body


def _handler_source() -> str:
    import io
    import zipfile
    with zipfile.ZipFile(io.BytesIO(lt.handler_zip())) as z:
        name = next(n for n in z.namelist() if n.endswith(".py"))
        return z.read(name).decode()
