// Event source mappings through the JS SDK v3 (client-lambda and client-sqs): create on a queue,
// read back, list by function, send messages and see the queue drained, disable, delete, and the
// error of a missing one. argv[2]: {"endpoint", "function", "queueUrl", "queueArn"}. Prints one JSON line with what each
// call answered (the Python test asserts on it) or {ok: false, error, message}.
import {
  LambdaClient, CreateEventSourceMappingCommand, GetEventSourceMappingCommand,
  ListEventSourceMappingsCommand, UpdateEventSourceMappingCommand, DeleteEventSourceMappingCommand,
} from "@aws-sdk/client-lambda";
import { SQSClient, SendMessageBatchCommand, GetQueueAttributesCommand } from "@aws-sdk/client-sqs";

const arg = JSON.parse(process.argv[2]);
const common = {
  endpoint: arg.endpoint, region: "us-east-1", maxAttempts: 1,
  credentials: { accessKeyId: "test", secretAccessKey: "test" },
};
const lambda = new LambdaClient(common);
const sqs = new SQSClient(common);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const strip = ({ $metadata, ...rest }) => ({ ...rest, status: $metadata.httpStatusCode });

try {
  const created = await lambda.send(new CreateEventSourceMappingCommand({
    EventSourceArn: arg.queueArn, FunctionName: arg.function, BatchSize: 10,
    MaximumBatchingWindowInSeconds: 1, FunctionResponseTypes: ["ReportBatchItemFailures"],
    FilterCriteria: { Filters: [{ Pattern: JSON.stringify({ body: { kind: ["order"] } }) }] },
    ScalingConfig: { MaximumConcurrency: 2 },
  }));
  let got;
  for (let i = 0; i < 50; i++) {
    got = await lambda.send(new GetEventSourceMappingCommand({ UUID: created.UUID }));
    if (got.State === "Enabled") break;
    await sleep(100);
  }
  const listed = await lambda.send(new ListEventSourceMappingsCommand({ FunctionName: arg.function }));
  const entries = ["order", "order", "other"].map((kind, i) => ({
    Id: String(i), MessageBody: JSON.stringify({ kind, i }),
  }));
  const sent = await sqs.send(new SendMessageBatchCommand({ QueueUrl: arg.queueUrl, Entries: entries }));
  // the mapping delivers the orders and deletes the filtered-out message: the queue empties
  let drained = false;
  for (let i = 0; i < 300 && !drained; i++) {
    const a = await sqs.send(new GetQueueAttributesCommand({
      QueueUrl: arg.queueUrl, AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    }));
    drained = a.Attributes.ApproximateNumberOfMessages === "0" && a.Attributes.ApproximateNumberOfMessagesNotVisible === "0";
    if (!drained) await sleep(100);
  }
  const updated = await lambda.send(new UpdateEventSourceMappingCommand({ UUID: created.UUID, Enabled: false }));
  const deleted = await lambda.send(new DeleteEventSourceMappingCommand({ UUID: created.UUID }));
  let missing = null;
  for (let i = 0; i < 50 && !missing; i++) {
    try {
      await lambda.send(new GetEventSourceMappingCommand({ UUID: created.UUID }));
      await sleep(100);
    } catch (e) {
      missing = { name: e.name, status: e.$metadata?.httpStatusCode, message: e.message };
    }
  }
  console.log(JSON.stringify({
    ok: true, created: strip(created), got: strip(got), listed: listed.EventSourceMappings.map((m) => m.UUID),
    sentFailed: sent.Failed ?? [], drained, updated: strip(updated), deleted: strip(deleted), missing,
  }));
} catch (e) {
  console.log(JSON.stringify({ ok: false, error: e.name, message: e.message }));
}
