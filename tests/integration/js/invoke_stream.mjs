// InvokeWithResponseStreamCommand through the JS SDK v3 (@aws-sdk/client-lambda): the
// events as the SDK's event-stream decoder yields them, with the time each arrived.
// argv[2]: {"endpoint", "region", "functionName", "payload"}. Prints one JSON line:
// {executedVersion, chunks: [{text, ms}], complete, endMs}.
import { LambdaClient, InvokeWithResponseStreamCommand } from "@aws-sdk/client-lambda";

const arg = JSON.parse(process.argv[2]);
const lambda = new LambdaClient({
  endpoint: arg.endpoint,
  region: arg.region,
  credentials: { accessKeyId: "test", secretAccessKey: "test" },
  maxAttempts: 1,
});
const start = performance.now();
const out = await lambda.send(new InvokeWithResponseStreamCommand({
  FunctionName: arg.functionName,
  Payload: Buffer.from(arg.payload),
  LogType: "Tail",
}));
const chunks = [];
let complete = null;
for await (const event of out.EventStream) {
  if (event.PayloadChunk) {
    chunks.push({ text: Buffer.from(event.PayloadChunk.Payload).toString(), ms: performance.now() - start });
  } else if (event.InvokeComplete) {
    complete = event.InvokeComplete;
  }
}
console.log(JSON.stringify({
  executedVersion: out.ExecutedVersion, statusCode: out.StatusCode, chunks, complete,
  endMs: performance.now() - start,
}));
