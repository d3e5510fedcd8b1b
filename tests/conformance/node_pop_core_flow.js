// The seed document's flow (CreateCommand -> InvokeCommand -> DescribeInvocationResults, output
// Base64-decoded) with the official Node SDK @alicloud/pop-core (signature V1; POST puts every
// parameter, the signature included, in a form body). Only the endpoint differs from a cloud
// run. Exits non-zero unless the output is `123`.
'use strict';

const RPCClient = require('@alicloud/pop-core').RPCClient;

const region = process.env.ALIBABA_CLOUD_REGION_ID || 'cn-hangzhou';
const instance = process.env.ECS_SANDBOX_INSTANCE_ID || 'i-sandbox0000000000001';

function client(secret) {
  return new RPCClient({
    accessKeyId: process.env.ALIBABA_CLOUD_ACCESS_KEY_ID || 'sandbox',
    accessKeySecret: secret,
    endpoint: process.env.ECS_RUNBOOK_ENDPOINT,
    apiVersion: '2014-05-26',
  });
}

async function main() {
  const ecs = client(process.env.ALIBABA_CLOUD_ACCESS_KEY_SECRET || 'sandbox-secret');
  const post = { method: 'POST' };
  const created = await ecs.request('CreateCommand', {
    RegionId: region,
    Name: 'test',
    Description: 'test',
    Type: 'RunShellScript',
    CommandContent: Buffer.from('echo 123').toString('base64'),
  }, post);
  const invoked = await ecs.request('InvokeCommand', {
    RegionId: region,
    CommandId: created.CommandId,
    'InstanceId.1': instance,
  }, post);
  for (let i = 0; i < 300; i++) {
    // GET this time: the SDK's default method, parameters in the query.
    const described = await ecs.request('DescribeInvocations', {
      RegionId: region,
      InvokeId: invoked.InvokeId,
    });
    const status = described.Invocations.Invocation[0].InvocationStatus;
    if (!['Pending', 'Running', 'Stopping'].includes(status)) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const results = await ecs.request('DescribeInvocationResults', {
    RegionId: region,
    InstanceId: instance,
    InvokeId: invoked.InvokeId,
  }, post);
  const output = Buffer.from(
    results.Invocation.InvocationResults.InvocationResult[0].Output, 'base64').toString();
  if (output.trim() !== '123') {
    console.log(`FAIL: expected output 123, got ${JSON.stringify(output)}`);
    process.exit(1);
  }
  try {
    await client('not-the-secret').request('DescribeInstances', { RegionId: region }, post);
    console.log('FAIL: a wrong secret was accepted');
    process.exit(1);
  } catch (e) {
    if (e.code !== 'SignatureDoesNotMatch') {
      console.log(`FAIL: unexpected error for a wrong secret: ${e}`);
      process.exit(1);
    }
  }
  console.log(`ok (pop-core): output ${JSON.stringify(output)}; wrong secret rejected`);
}

main().catch((e) => {
  console.log(`FAIL: ${e.stack || e}`);
  process.exit(1);
});
