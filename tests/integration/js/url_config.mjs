// Function URL configs through the JS SDK v3 (@aws-sdk/client-lambda): Create, Get,
// Update, List (paged), Delete, and AWS's errors as the SDK's typed exceptions.
// argv[2]: {"endpoint", "region", "functionName", "alias", "functionArn"}; the function
// and its alias exist. Asserts with node:assert; prints one JSON line of what it saw.
import assert from "node:assert/strict";
import {
  LambdaClient,
  CreateFunctionUrlConfigCommand,
  GetFunctionUrlConfigCommand,
  UpdateFunctionUrlConfigCommand,
  ListFunctionUrlConfigsCommand,
  DeleteFunctionUrlConfigCommand,
  ResourceConflictException,
  ResourceNotFoundException,
} from "@aws-sdk/client-lambda";

const arg = JSON.parse(process.argv[2]);
const lambda = new LambdaClient({
  endpoint: arg.endpoint,
  region: arg.region,
  credentials: { accessKeyId: "test", secretAccessKey: "test" },
  maxAttempts: 1,
});
const FunctionName = arg.functionName;
const URL_RE = /^http:\/\/[0-9a-z]{32}\.lambda-url\.[a-z0-9-]+\.localhost:\d+\/$/;
const cors = {
  AllowCredentials: true,
  AllowHeaders: ["x-custom"],
  AllowMethods: ["GET", "PUT"],
  AllowOrigins: ["https://example.com"],
  ExposeHeaders: ["x-id"],
  MaxAge: 300,
};

async function expectError(command, ErrorClass, name, status) {
  try {
    await lambda.send(command);
  } catch (e) {
    if (ErrorClass) assert.ok(e instanceof ErrorClass, `${e.name} is not a ${ErrorClass.name}`);
    assert.equal(e.name, name);
    assert.equal(e.$metadata.httpStatusCode, status);
    assert.ok(e.message.length > 0);
    return { name: e.name, status: e.$metadata.httpStatusCode, message: e.message };
  }
  assert.fail(`${command.constructor.name} succeeded; expected ${name}`);
}

const seen = {};
const created = await lambda.send(new CreateFunctionUrlConfigCommand({ FunctionName, AuthType: "NONE", Cors: cors }));
assert.equal(created.$metadata.httpStatusCode, 201);
assert.match(created.FunctionUrl, URL_RE);
assert.equal(created.FunctionArn, arg.functionArn);
assert.equal(created.AuthType, "NONE");
assert.deepEqual(created.Cors, cors);
assert.equal(created.InvokeMode, undefined); // not sent, not echoed
assert.equal(created.LastModifiedTime, undefined); // Create answers none
assert.ok(!Number.isNaN(Date.parse(created.CreationTime)), created.CreationTime);
seen.created = created.FunctionUrl;

const got = await lambda.send(new GetFunctionUrlConfigCommand({ FunctionName }));
assert.equal(got.FunctionUrl, created.FunctionUrl);
assert.equal(got.InvokeMode, "BUFFERED");
assert.equal(got.CreationTime, created.CreationTime);
assert.ok(got.LastModifiedTime);
assert.deepEqual(got.Cors, cors);

seen.conflict = await expectError(new CreateFunctionUrlConfigCommand({ FunctionName, AuthType: "AWS_IAM" }),
  ResourceConflictException, "ResourceConflictException", 409);
seen.badQualifier = await expectError(
  new GetFunctionUrlConfigCommand({ FunctionName, Qualifier: "1" }), null, "ValidationException", 400);
seen.badAuthType = await expectError(
  new CreateFunctionUrlConfigCommand({ FunctionName, Qualifier: arg.alias, AuthType: "OPEN" }),
  null, "ValidationException", 400);

const updated = await lambda.send(new UpdateFunctionUrlConfigCommand({
  FunctionName, AuthType: "AWS_IAM", InvokeMode: "RESPONSE_STREAM", Cors: { AllowOrigins: ["*"] },
}));
assert.equal(updated.FunctionUrl, created.FunctionUrl); // stable for the config's life
assert.equal(updated.AuthType, "AWS_IAM");
assert.equal(updated.InvokeMode, "RESPONSE_STREAM");
assert.deepEqual(updated.Cors, { AllowOrigins: ["*"] });
assert.ok(Date.parse(updated.LastModifiedTime) >= Date.parse(created.CreationTime));

const aliasUrl = await lambda.send(new CreateFunctionUrlConfigCommand({
  FunctionName, Qualifier: arg.alias, AuthType: "NONE",
}));
assert.equal(aliasUrl.FunctionArn, `${arg.functionArn}:${arg.alias}`);
assert.notEqual(aliasUrl.FunctionUrl, created.FunctionUrl);

// two configs, one a page
const first = await lambda.send(new ListFunctionUrlConfigsCommand({ FunctionName, MaxItems: 1 }));
assert.equal(first.FunctionUrlConfigs.length, 1);
assert.ok(first.NextMarker, "a first page of one has a NextMarker");
const second = await lambda.send(new ListFunctionUrlConfigsCommand({ FunctionName, Marker: first.NextMarker }));
assert.equal(second.FunctionUrlConfigs.length, 1);
assert.equal(second.NextMarker, undefined);
const listed = [...first.FunctionUrlConfigs, ...second.FunctionUrlConfigs];
assert.deepEqual(listed.map((c) => c.FunctionArn), [arg.functionArn, `${arg.functionArn}:${arg.alias}`]);
assert.deepEqual(listed.map((c) => c.InvokeMode), ["RESPONSE_STREAM", "BUFFERED"]);
seen.listed = listed.map((c) => c.FunctionUrl);

const deleted = await lambda.send(new DeleteFunctionUrlConfigCommand({ FunctionName }));
assert.equal(deleted.$metadata.httpStatusCode, 204);
seen.afterDelete = await expectError(new GetFunctionUrlConfigCommand({ FunctionName }),
  ResourceNotFoundException, "ResourceNotFoundException", 404);
seen.deleteAgain = await expectError(new DeleteFunctionUrlConfigCommand({ FunctionName }),
  ResourceNotFoundException, "ResourceNotFoundException", 404);
const left = await lambda.send(new ListFunctionUrlConfigsCommand({ FunctionName }));
assert.deepEqual(left.FunctionUrlConfigs.map((c) => c.FunctionUrl), [aliasUrl.FunctionUrl]);
console.log(JSON.stringify(seen));
