"""PublishVersion, ListVersionsByFunction, DeleteFunction(Qualifier) and aliases."""

from __future__ import annotations

import lamina_testlib as lt
from lamina_testlib import expect_error, fn_arn, raw_json, validation_message

ALIAS_KEYS = {"AliasArn", "Description", "FunctionVersion", "Name", "RevisionId"}


def _two_versions(lam, name=None):
    """A function with version 1 (env testenv=staging) and version 2 (testenv=prod)."""
    name = name or lt.unique("alias-fn")
    lt.create_function(lam, name, Environment={"Variables": {"testenv": "staging"}})
    v1 = lam.publish_version(FunctionName=name)
    lam.update_function_configuration(FunctionName=name, Environment={"Variables": {"testenv": "prod"}})
    lt.wait_updated(lam, name)
    v2 = lam.publish_version(FunctionName=name)
    assert (v1["Version"], v2["Version"]) == ("1", "2")
    return name, v1, v2


class TestVersions:
    def test_version_lifecycle(self, lam):
        name = lt.unique()
        z = lt.handler_zip()
        lt.create_function(lam, name, zip_bytes=z, Description="No version :(")
        assert [v["Version"] for v in lam.list_versions_by_function(FunctionName=name)["Versions"]] == ["$LATEST"]

        lam.update_function_configuration(FunctionName=name, Description="First version :)")
        lt.wait_updated(lam, name)
        rev_latest_before = lam.get_function(FunctionName=name)["Configuration"]["RevisionId"]
        p1 = lam.publish_version(FunctionName=name, Description="First version description :)")
        raw = raw_json(lam)
        assert p1["ResponseMetadata"]["HTTPStatusCode"] == 201
        assert set(raw) == lt.ACTIVE_KEYS
        assert raw["Version"] == "1"
        assert raw["FunctionArn"] == fn_arn(name, "1")
        assert raw["Description"] == "First version description :)"
        assert raw["State"] == "Active" and raw["LastUpdateStatus"] == "Successful"
        assert raw["CodeSha256"] == lt.b64sha256(z)
        assert lt.LAST_MODIFIED_RE.match(raw["LastModified"])
        latest = lam.get_function(FunctionName=name)["Configuration"]
        assert latest["Description"] == "First version :)", "Description applies to the version only"
        assert latest["RevisionId"] != rev_latest_before, "PublishVersion gives $LATEST a new RevisionId"
        assert p1["RevisionId"] not in (latest["RevisionId"], rev_latest_before)

        # the published version is immutable and its RevisionId is stable
        lam.get_waiter("published_version_active").wait(FunctionName=name, Qualifier="1",
                                                         WaiterConfig={"Delay": 1, "MaxAttempts": 5})
        g1 = lam.get_function(FunctionName=name, Qualifier="1")["Configuration"]
        assert g1["RevisionId"] == p1["RevisionId"]
        assert g1["Description"] == "First version description :)"
        c1 = lam.get_function_configuration(FunctionName=name, Qualifier="1")
        assert c1["FunctionArn"] == fn_arn(name, "1") and c1["Version"] == "1"

        lam.update_function_configuration(FunctionName=name, Description="Second version :))")
        lt.wait_updated(lam, name)
        g1b = lam.get_function(FunctionName=name, Qualifier="1")["Configuration"]
        assert g1b == g1, "a published version never changes"

        p2 = lam.publish_version(FunctionName=name)
        assert p2["Version"] == "2"
        assert p2["Description"] == "Second version :))", "without Description the version takes $LATEST's"
        # nothing changed since version 2: the newest version comes back unchanged (201)
        p3 = lam.publish_version(FunctionName=name, Description="Third version description :)))")
        assert p3["ResponseMetadata"]["HTTPStatusCode"] == 201
        assert p3["Version"] == "2"
        assert p3["Description"] == "Second version :))"
        assert p3["RevisionId"] == p2["RevisionId"]
        assert p3["FunctionArn"] == fn_arn(name, "2")

        lst = lam.list_versions_by_function(FunctionName=name)
        rows = raw_json(lam)["Versions"]
        assert [r["Version"] for r in rows] == ["$LATEST", "1", "2"]
        assert [r["FunctionArn"] for r in rows] == [fn_arn(name, "$LATEST"), fn_arn(name, "1"), fn_arn(name, "2")]
        assert [r["Description"] for r in rows] == ["Second version :))", "First version description :)",
                                                    "Second version :))"]
        for r in rows:
            assert set(r) == lt.LIST_ROW_KEYS
        assert "NextMarker" not in lst

    def test_publish_on_create_then_republish(self, lam):
        name = lt.unique()
        lam.create_function(FunctionName=name, Runtime=lt.RUNTIME, Role=lt.ROLE_ARN, Handler=lt.HANDLER,
                            Code={"ZipFile": lt.handler_zip()}, Publish=True)
        lt.wait_active(lam, name)
        v1 = lam.get_function(FunctionName=name, Qualifier="1")["Configuration"]
        again = lam.publish_version(FunctionName=name, Description="Repeated version description :)")
        assert again["Version"] == "1"
        assert again["RevisionId"] == v1["RevisionId"]
        assert again["Description"] == ""
        assert [v["Version"] for v in lam.list_versions_by_function(FunctionName=name)["Versions"]] == ["$LATEST", "1"]

    def test_publish_with_wrong_sha256(self, lam, fn):
        name, _, z = fn
        sha = lt.b64sha256(z)
        with expect_error("InvalidParameterValueException", 400,
                          f"CodeSHA256 (somenonexistentsha256) is different from current CodeSHA256 in $LATEST "
                          f"({sha}). Please try again with the CodeSHA256 in $LATEST.") as e:
            lam.publish_version(FunctionName=name, CodeSha256="somenonexistentsha256")
        assert e.response.get("Type") == "User"
        assert lam.list_versions_by_function(FunctionName=name)["Versions"][-1]["Version"] == "$LATEST"
        ok = lam.publish_version(FunctionName=name, CodeSha256=sha)
        assert ok["Version"] == "1" and ok["CodeSha256"] == sha

    def test_publish_with_wrong_revision_id(self, lam, fn):
        name, _, _ = fn
        rev = lam.get_function(FunctionName=name)["Configuration"]["RevisionId"]
        with expect_error("PreconditionFailedException", 412, lt.MSG_REVISION):
            lam.publish_version(FunctionName=name, RevisionId="wrong")
        ok = lam.publish_version(FunctionName=name, RevisionId=rev)
        assert ok["Version"] == "1"
        assert ok["RevisionId"] != rev

    def test_publish_missing_function(self, lam):
        name = lt.unique("nope")
        with expect_error("ResourceNotFoundException", 404, f"Function not found: {fn_arn(name)}"):
            lam.publish_version(FunctionName=name)
        with expect_error("ResourceNotFoundException", 404):
            lam.list_versions_by_function(FunctionName=name)

    def test_version_numbers_never_reused(self, lam, fn):
        name, _, _ = fn
        assert lam.publish_version(FunctionName=name)["Version"] == "1"
        lam.update_function_code(FunctionName=name, ZipFile=lt.handler_zip())
        lt.wait_updated(lam, name)
        assert lam.publish_version(FunctionName=name)["Version"] == "2"
        assert lam.delete_function(FunctionName=name, Qualifier="2")["ResponseMetadata"]["HTTPStatusCode"] == 204
        with expect_error("ResourceNotFoundException", 404, f"Function not found: {fn_arn(name, '2')}"):
            lam.get_function(FunctionName=name, Qualifier="2")
        lam.update_function_code(FunctionName=name, ZipFile=lt.handler_zip())
        lt.wait_updated(lam, name)
        assert lam.publish_version(FunctionName=name)["Version"] == "3"
        lam.delete_function(FunctionName=f"{name}:1")
        assert [v["Version"] for v in lam.list_versions_by_function(FunctionName=name)["Versions"]] == ["$LATEST", "3"]

    def test_list_versions_paging(self, lam, fn):
        name, _, _ = fn
        for i in range(3):
            lam.update_function_configuration(FunctionName=name, Description=f"d{i}")
            lt.wait_updated(lam, name)
            lam.publish_version(FunctionName=name)
        seen, marker, pages = [], None, 0
        while True:
            kw = {"FunctionName": name, "MaxItems": 1}
            if marker:
                kw["Marker"] = marker
            page = lam.list_versions_by_function(**kw)
            assert len(page["Versions"]) == 1
            seen += [v["Version"] for v in page["Versions"]]
            pages += 1
            marker = page.get("NextMarker")
            if not marker:
                break
            assert pages < 10
        assert seen == ["$LATEST", "1", "2", "3"]
        full = lam.get_paginator("list_versions_by_function").paginate(
            FunctionName=name, PaginationConfig={"PageSize": 2}).build_full_result()
        assert [v["Version"] for v in full["Versions"]] == ["$LATEST", "1", "2", "3"]


class TestDeleteQualifier:
    def test_delete_qualifier_rules(self, lam):
        name, _, _ = _two_versions(lam)
        lam.create_alias(FunctionName=name, Name="PROD", FunctionVersion="1")
        with expect_error("InvalidParameterValueException", 400,
                          "$LATEST version cannot be deleted without deleting the function."):
            lam.delete_function(FunctionName=name, Qualifier="$LATEST")
        with expect_error("InvalidParameterValueException", 400, "Deletion of aliases is not currently supported."):
            lam.delete_function(FunctionName=name, Qualifier="PROD")
        with expect_error("ResourceConflictException", 409,
                          "Unable to delete version because the following aliases reference it: [PROD]"):
            lam.delete_function(FunctionName=name, Qualifier="1")
        assert lam.get_function(FunctionName=name, Qualifier="1")["Configuration"]["Version"] == "1"
        assert lam.delete_function(FunctionName=name, Qualifier="2")["ResponseMetadata"]["HTTPStatusCode"] == 204
        with expect_error("ResourceNotFoundException", 404, f"Function not found: {fn_arn(name, '2')}"):
            lam.get_function_configuration(FunctionName=name, Qualifier="2")
        lam.delete_alias(FunctionName=name, Name="PROD")
        lam.delete_function(FunctionName=name, Qualifier="1")
        assert [v["Version"] for v in lam.list_versions_by_function(FunctionName=name)["Versions"]] == ["$LATEST"]

    def test_delete_function_removes_everything(self, lam):
        name, _, _ = _two_versions(lam)
        lam.create_alias(FunctionName=name, Name="live", FunctionVersion="2")
        lam.delete_function(FunctionName=name)
        for q in ("1", "2", "live", "$LATEST"):
            with expect_error("ResourceNotFoundException", 404):
                lam.get_function(FunctionName=name, Qualifier=q)
        with expect_error("ResourceNotFoundException", 404):
            lam.list_aliases(FunctionName=name)
        # the name can be reused, versions start again at 1
        lt.create_function(lam, name)
        assert lam.publish_version(FunctionName=name)["Version"] == "1"
        assert lam.list_aliases(FunctionName=name)["Aliases"] == []


class TestAliases:
    def test_alias_lifecycle(self, lam):
        name, v1, v2 = _two_versions(lam)
        a11 = lam.create_alias(FunctionName=name, Name="aliasname1_1", FunctionVersion="1",
                               Description="custom-alias", RoutingConfig={"AdditionalVersionWeights": {"2": 0.2}})
        raw = raw_json(lam)
        assert a11["ResponseMetadata"]["HTTPStatusCode"] == 201
        assert raw == {"AliasArn": fn_arn(name, "aliasname1_1"), "Description": "custom-alias",
                       "FunctionVersion": "1", "Name": "aliasname1_1", "RevisionId": raw["RevisionId"],
                       "RoutingConfig": {"AdditionalVersionWeights": {"2": 0.2}}}
        assert lt.UUID_RE.match(raw["RevisionId"])
        lam.get_alias(FunctionName=name, Name="aliasname1_1")
        assert raw_json(lam) == raw

        for fname, q in ((name, "aliasname1_1"), (a11["AliasArn"], None), (f"{name}:aliasname1_1", None)):
            kw = {"FunctionName": fname}
            if q:
                kw["Qualifier"] = q
            conf = lam.get_function(**kw)["Configuration"]
            assert conf["FunctionArn"] == fn_arn(name, "aliasname1_1")
            assert conf["Version"] == "1"
            assert conf["Environment"] == {"Variables": {"testenv": "staging"}}
        with expect_error("ResourceNotFoundException", 404,
                          f"Function not found: {fn_arn(name, 'aliasdoesnotexist')}"):
            lam.get_function(FunctionName=a11["AliasArn"].replace("aliasname1_1", "aliasdoesnotexist"))

        lam.create_alias(FunctionName=name, Name="aliasname1_2", FunctionVersion="1", Description="custom-alias")
        assert set(raw_json(lam)) == ALIAS_KEYS, "RoutingConfig omitted when empty"
        a13 = lam.create_alias(FunctionName=name, Name="aliasname1_3", FunctionVersion="1")
        assert a13["Description"] == ""
        lam.create_alias(FunctionName=name, Name="aliasname2", FunctionVersion="2", Description="custom-alias")

        pages = lam.get_paginator("list_aliases").paginate(
            FunctionName=name, PaginationConfig={"PageSize": 1}).build_full_result()
        assert sorted(a["Name"] for a in pages["Aliases"]) == ["aliasname1_1", "aliasname1_2", "aliasname1_3",
                                                               "aliasname2"]
        one = lam.list_aliases(FunctionName=name, MaxItems=1)
        assert len(one["Aliases"]) == 1 and one.get("NextMarker")

        up = lam.update_alias(FunctionName=name, Name="aliasname1_1", RoutingConfig={"AdditionalVersionWeights": {}})
        assert "RoutingConfig" not in raw_json(lam)
        assert up["RevisionId"] != a11["RevisionId"]
        assert "RoutingConfig" not in lam.get_alias(FunctionName=name, Name="aliasname1_1")

        before = lam.get_alias(FunctionName=name, Name="aliasname1_2")
        noop = lam.update_alias(FunctionName=name, Name="aliasname1_2")
        assert noop["RevisionId"] != before["RevisionId"]
        assert noop["Description"] == "custom-alias" and noop["FunctionVersion"] == "1"

        v1_aliases = lam.list_aliases(FunctionName=name, FunctionVersion="1")["Aliases"]
        assert sorted(a["Name"] for a in v1_aliases) == ["aliasname1_1", "aliasname1_2", "aliasname1_3"]
        assert [a["Name"] for a in lam.list_aliases(FunctionName=name, FunctionVersion="2")["Aliases"]] == ["aliasname2"]

        d = lam.delete_alias(FunctionName=name, Name="aliasname1_1")
        assert d["ResponseMetadata"]["HTTPStatusCode"] == 204
        rest = lam.list_aliases(FunctionName=name)["Aliases"]
        assert sorted(a["Name"] for a in rest) == ["aliasname1_2", "aliasname1_3", "aliasname2"]

        moved = lam.update_alias(FunctionName=name, Name="aliasname1_3", FunctionVersion="2")
        assert moved["FunctionVersion"] == "2"
        assert lam.get_function(FunctionName=name, Qualifier="aliasname1_3")["Configuration"]["Version"] == "2"

    def test_notfound_and_invalid_routing_configs(self, lam, lam_nv):
        name, _, _ = _two_versions(lam)
        c = lam_nv
        with expect_error("InvalidParameterValueException", 400,
                          "Number of items in AdditionalVersionWeights cannot be greater than 1"):
            c.create_alias(FunctionName=name, Name="custom", FunctionVersion="1",
                           RoutingConfig={"AdditionalVersionWeights": {"1": 0.8, "2": 0.2}})
        map_value = ("failed to satisfy constraint: Map value must satisfy constraint: [Member must have value "
                     "less than or equal to 1.0, Member must have value greater than or equal to 0.0, "
                     "Member must not be null]")
        with expect_error("ValidationException", 400, validation_message(
                f"Value '{{2=2.0}}' at 'routingConfig.additionalVersionWeights' {map_value}")):
            c.create_alias(FunctionName=name, Name="custom", FunctionVersion="1",
                           RoutingConfig={"AdditionalVersionWeights": {"2": 2}})
        with expect_error("ValidationException", 400, validation_message(
                f"Value '{{2=-1.0}}' at 'routingConfig.additionalVersionWeights' {map_value}")):
            c.create_alias(FunctionName=name, Name="custom", FunctionVersion="1",
                           RoutingConfig={"AdditionalVersionWeights": {"2": -1}})
        with expect_error("InvalidParameterValueException", 400,
                          "Invalid function version 1. Function version 1 is already included in routing "
                          "configuration."):
            c.create_alias(FunctionName=name, Name="custom", FunctionVersion="1",
                           RoutingConfig={"AdditionalVersionWeights": {"1": 0.5}})
        with expect_error("ResourceNotFoundException", 404, f"Function not found: {fn_arn(name, '10')}"):
            c.create_alias(FunctionName=name, Name="custom", FunctionVersion="10",
                           RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}})
        with expect_error("ResourceNotFoundException", 404, f"Function not found: {fn_arn(name, '10')}"):
            c.create_alias(FunctionName=name, Name="custom", FunctionVersion="1",
                           RoutingConfig={"AdditionalVersionWeights": {"10": 0.5}})
        with expect_error("InvalidParameterValueException", 400,
                          "$LATEST is not supported for an alias pointing to more than 1 version"):
            c.create_alias(FunctionName=name, Name="custom", FunctionVersion="$LATEST",
                           RoutingConfig={"AdditionalVersionWeights": {"1": 0.5}})
        with expect_error("ValidationException", 400, validation_message(
                "Value '{$LATEST=0.5}' at 'routingConfig.additionalVersionWeights' failed to satisfy constraint: "
                "Map keys must satisfy constraint: [Member must have length less than or equal to 1024, Member "
                "must have length greater than or equal to 1, Member must satisfy regular expression pattern: "
                "[0-9]+]")):
            c.create_alias(FunctionName=name, Name="custom", FunctionVersion="1",
                           RoutingConfig={"AdditionalVersionWeights": {"$LATEST": 0.5}})
        latest = c.create_alias(FunctionName=name, Name="custom-latest", FunctionVersion="$LATEST")
        assert latest["FunctionVersion"] == "$LATEST" and latest["AliasArn"] == fn_arn(name, "custom-latest")
        with expect_error("ResourceNotFoundException", 404,
                          f"Function not found: {fn_arn(name + '-unknown', '1')}"):
            c.create_alias(FunctionName=f"{name}-unknown", Name="custom", FunctionVersion="1",
                           RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}})
        empty = c.create_alias(FunctionName=name, Name="custom-empty-routingconfig", FunctionVersion="1",
                               RoutingConfig={"AdditionalVersionWeights": {}})
        assert "RoutingConfig" not in raw_json(c) and empty["FunctionVersion"] == "1"
        ok = c.create_alias(FunctionName=name, Name="custom", FunctionVersion="1",
                            RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}})
        assert ok["RoutingConfig"] == {"AdditionalVersionWeights": {"2": 0.5}}
        with expect_error("ResourceConflictException", 409, f"Alias already exists: {fn_arn(name, 'custom')}") as e:
            c.create_alias(FunctionName=name, Name="custom", FunctionVersion="1",
                           RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}})
        assert e.response.get("Type") == "User"
        with expect_error("ResourceNotFoundException", 404,
                          f"Cannot find alias arn: {fn_arn(name, 'non-existent')}"):
            c.get_alias(FunctionName=name, Name="non-existent")
        # the same rules on UpdateAlias
        with expect_error("InvalidParameterValueException", 400,
                          "Number of items in AdditionalVersionWeights cannot be greater than 1"):
            c.update_alias(FunctionName=name, Name="custom",
                           RoutingConfig={"AdditionalVersionWeights": {"1": 0.5, "2": 0.2}})
        with expect_error("ValidationException", 400, validation_message(
                f"Value '{{2=2.0}}' at 'routingConfig.additionalVersionWeights' {map_value}")):
            c.update_alias(FunctionName=name, Name="custom", RoutingConfig={"AdditionalVersionWeights": {"2": 2}})
        assert c.get_alias(FunctionName=name, Name="custom")["RoutingConfig"] == {"AdditionalVersionWeights": {"2": 0.5}}

    def test_missing_alias_update_delete(self, lam, fn):
        name, _, _ = fn
        with expect_error("ResourceNotFoundException", 404, f"Alias not found: {fn_arn(name, 'non-existent')}"):
            lam.update_alias(FunctionName=name, Name="non-existent", Description="x")
        d = lam.delete_alias(FunctionName=name, Name="non-existent")
        assert d["ResponseMetadata"]["HTTPStatusCode"] == 204

    def test_alias_naming(self, lam, fn):
        name, _, _ = fn
        lam.publish_version(FunctionName=name)
        a = lam.create_alias(FunctionName=name, Name="2024-01-02", FunctionVersion="1", Description="custom-alias")
        assert a["AliasArn"] == fn_arn(name, "2024-01-02")
        assert lam.get_alias(FunctionName=name, Name="2024-01-02")["FunctionVersion"] == "1"
        with expect_error("ValidationException", 400, validation_message(
                "Value '2024' at 'name' failed to satisfy constraint: Member must satisfy regular expression "
                r"pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)")):
            lam.create_alias(FunctionName=name, Name="2024", FunctionVersion="1", Description="custom-alias")

    def test_alias_revision_ids(self, lam, fn):
        name, _, _ = fn
        latest_rev = lam.get_function(FunctionName=name)["Configuration"]["RevisionId"]
        with expect_error("PreconditionFailedException", 412, lt.MSG_REVISION):
            lam.publish_version(FunctionName=name, RevisionId="wrong")
        p = lam.publish_version(FunctionName=name, RevisionId=latest_rev)
        latest_rev2 = lam.get_function(FunctionName=name)["Configuration"]["RevisionId"]
        assert latest_rev2 != latest_rev
        a1 = lam.create_alias(FunctionName=name, Name="revision_alias", FunctionVersion=p["Version"])
        assert a1["RevisionId"] != p["RevisionId"]
        assert lam.get_function(FunctionName=name)["Configuration"]["RevisionId"] == latest_rev2, \
            "CreateAlias does not touch $LATEST's RevisionId"
        assert lam.get_function(FunctionName=name, Qualifier="1")["Configuration"]["RevisionId"] == p["RevisionId"], \
            "CreateAlias does not touch the version's RevisionId"
        with expect_error("PreconditionFailedException", 412, lt.MSG_REVISION) as e:
            lam.update_alias(FunctionName=name, Name="revision_alias", RevisionId="wrong")
        assert e.response.get("Type") == "User"
        a2 = lam.update_alias(FunctionName=name, Name="revision_alias", Description="something changed",
                              RevisionId=a1["RevisionId"])
        assert a2["RevisionId"] != a1["RevisionId"]
        assert a2["Description"] == "something changed"

    def test_alias_on_missing_function_and_list(self, lam):
        name = lt.unique("nope")
        with expect_error("ResourceNotFoundException", 404):
            lam.list_aliases(FunctionName=name)
        with expect_error("ResourceNotFoundException", 404):
            lam.get_alias(FunctionName=name, Name="x")
