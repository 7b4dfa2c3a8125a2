// SQS through the JS SDK v3, which computes MD5OfMessageBody and MD5OfMessageAttributes itself
// and throws when lamina's differ. argv[2]: {"endpoint", "queue"}. Prints one JSON line:
// {ok, sent, received} or {ok: false, error, message}.
import {
  SQSClient, CreateQueueCommand, SendMessageCommand, SendMessageBatchCommand,
  ReceiveMessageCommand, DeleteMessageCommand,
} from "@aws-sdk/client-sqs";

const arg = JSON.parse(process.argv[2]);
const client = new SQSClient({
  endpoint: arg.endpoint, region: "us-east-1",
  credentials: { accessKeyId: "test", secretAccessKey: "test" },
});
const attrs = {
  Author: { DataType: "String", StringValue: "John Grisham" },
  WeeksOn: { DataType: "Number", StringValue: "6" },
  Blob: { DataType: "Binary", BinaryValue: new Uint8Array([0, 1, 2, 254, 255]) },
  Note: { DataType: "String.note", StringValue: "ünïcode ✓" },
};
try {
  const { QueueUrl } = await client.send(new CreateQueueCommand({ QueueName: arg.queue }));
  const sent = [];
  for (const body of ["héllo 🙂", "second"]) {
    await client.send(new SendMessageCommand({ QueueUrl, MessageBody: body, MessageAttributes: attrs }));
    sent.push(body);
  }
  await client.send(new SendMessageBatchCommand({
    QueueUrl, Entries: [{ Id: "a", MessageBody: "batched", MessageAttributes: attrs }],
  }));
  sent.push("batched");
  const received = [];
  while (received.length < sent.length) {
    const r = await client.send(new ReceiveMessageCommand({
      QueueUrl, MaxNumberOfMessages: 10, MessageAttributeNames: ["All"], WaitTimeSeconds: 1,
    }));
    if (!r.Messages) break;
    for (const m of r.Messages) {
      received.push(m.Body);
      await client.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: m.ReceiptHandle }));
    }
  }
  console.log(JSON.stringify({ ok: true, sent: sent.sort(), received: received.sort() }));
} catch (e) {
  console.log(JSON.stringify({ ok: false, error: e.name, message: e.message }));
}
