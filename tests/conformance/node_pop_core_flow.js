// The official Node SDK @alicloud/pop-core (signature V1) against the sandbox: the seed
// document's flow (CreateCommand -> InvokeCommand -> DescribeInvocationResults, output
// Base64-decoded) inside a pass over all twelve actions of the API reference. POST puts every
// parameter, the signature included, in a form body; GET puts them in the query; both are
// used. Each response's fields that a caller reads must be there, and the sandbox's counters
// (GET /_sandbox/stats) must show all twelve actions called, every request signed V1. Only the
// endpoint differs from a cloud run. Exits non-zero on the first failure.
'use strict';

const RPCClient = require('@alicloud/pop-core').RPCClient;

const endpoint = process.env.ECS_RUNBOOK_ENDPOINT;
const region = process.env.ALIBABA_CLOUD_REGION_ID || 'cn-hangzhou';
const instance = process.env.ECS_SANDBOX_INSTANCE_ID || 'i-sandbox0000000000001';
const ACTIONS = [
  'DescribeInstances', 'DescribeCloudAssistantStatus', 'InstallCloudAssistant',
  'CreateCommand', 'ModifyCommand', 'DescribeCommands', 'DeleteCommand', 'InvokeCommand',
  'RunCommand', 'DescribeInvocations', 'DescribeInvocationResults', 'StopInvocation',
];

function fail(message) {
  console.log(`FAIL (pop-core): ${message}`);
  process.exit(1);
}

function client(secret) {
  return new RPCClient({
    accessKeyId: process.env.ALIBABA_CLOUD_ACCESS_KEY_ID || 'sandbox',
    accessKeySecret: secret,
    endpoint,
    apiVersion: '2014-05-26',
  });
}

async function stats() {
  const response = await fetch(`${endpoint.replace(/\/$/, '')}/_sandbox/stats`);
  return response.json();
}

const ecs = client(process.env.ALIBABA_CLOUD_ACCESS_KEY_SECRET || 'sandbox-secret');

// One call; every dotted path in `required` must hold a value.
async function send(action, params, method, ...required) {
  const options = method === 'POST' ? { method: 'POST' } : {};
  const response = await ecs.request(action, { RegionId: region, ...params }, options);
  for (const path of ['RequestId', ...required]) {
    const value = path.split('.').reduce((v, k) => (v == null ? v : v[k]), response);
    if (value == null || value === '' || (Array.isArray(value) && value.length === 0)) {
      fail(`${action}: ${path} is missing in ${JSON.stringify(response)}`);
    }
  }
  return response;
}

async function wait(invokeId, done) {
  for (let i = 0; i < 300; i++) {
    const described = await send('DescribeInvocations', { InvokeId: invokeId }, 'GET',
      'Invocations.Invocation.0.InvocationStatus',
      'Invocations.Invocation.0.InvokeInstances.InvokeInstance.0.InstanceId');
    const status = described.Invocations.Invocation[0].InvocationStatus;
    if (done.includes(status)) return status;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return fail(`invocation ${invokeId} never reached ${done}`);
}

async function main() {
  const before = await stats();
  const listed = await send('DescribeInstances', {}, 'GET',
    'Instances.Instance.0.InstanceId', 'TotalCount');
  if (!listed.Instances.Instance.some((i) => i.InstanceId === instance)) {
    fail(`DescribeInstances does not list ${instance}`);
  }
  const agents = await send('DescribeCloudAssistantStatus', { 'InstanceId.1': instance }, 'POST',
    'InstanceCloudAssistantStatusSet.InstanceCloudAssistantStatus.0.CloudAssistantStatus');
  if (agents.InstanceCloudAssistantStatusSet.InstanceCloudAssistantStatus[0]
    .CloudAssistantStatus !== 'true') {
    fail(`the agent of ${instance} is not running`);
  }
  await send('InstallCloudAssistant', { 'InstanceId.1': instance }, 'POST');

  const created = await send('CreateCommand', {
    Name: 'test',
    Description: 'test',
    Type: 'RunShellScript',
    CommandContent: Buffer.from('echo 123').toString('base64'),
  }, 'POST', 'CommandId');
  await send('ModifyCommand', { CommandId: created.CommandId, Name: 'modified' }, 'POST');
  const commands = await send('DescribeCommands', { CommandId: created.CommandId }, 'GET',
    'Commands.Command.0.CommandContent', 'Commands.Command.0.Type');
  if (commands.Commands.Command[0].Name !== 'modified') {
    fail(`ModifyCommand did not apply: ${JSON.stringify(commands.Commands.Command[0])}`);
  }
  const invoked = await send('InvokeCommand', {
    CommandId: created.CommandId,
    'InstanceId.1': instance,
  }, 'POST', 'InvokeId');
  await wait(invoked.InvokeId, ['Success', 'Failed', 'PartialFailed', 'Stopped']);
  const results = await send('DescribeInvocationResults', {
    InstanceId: instance,
    InvokeId: invoked.InvokeId,
  }, 'POST', 'Invocation.InvocationResults.InvocationResult.0.Output');
  const output = Buffer.from(
    results.Invocation.InvocationResults.InvocationResult[0].Output, 'base64').toString();
  if (output.trim() !== '123') {
    fail(`expected output 123, got ${JSON.stringify(output)}`);
  }

  const run = await send('RunCommand', {
    Type: 'RunShellScript',
    CommandContent: 'sleep 30',
    ContentEncoding: 'PlainText',
    'InstanceId.1': instance,
  }, 'POST', 'InvokeId', 'CommandId');
  await wait(run.InvokeId, ['Running']);
  await send('StopInvocation', { InvokeId: run.InvokeId, 'InstanceId.1': instance }, 'POST');
  await wait(run.InvokeId, ['Stopped']);
  await send('DeleteCommand', { CommandId: created.CommandId }, 'POST');

  const after = await stats();
  for (const action of ACTIONS) {
    if ((after.calls[action] || 0) <= (before.calls[action] || 0)) {
      fail(`${action} was never called`);
    }
  }
  if ((after.signatures.V3 || 0) !== (before.signatures.V3 || 0)) {
    fail('some requests were signed V3, not V1');
  }

  try {
    await client('not-the-secret').request('DescribeInstances', { RegionId: region },
      { method: 'POST' });
    fail('a wrong secret was accepted');
  } catch (e) {
    if (e.code !== 'SignatureDoesNotMatch') {
      fail(`unexpected error for a wrong secret: ${e}`);
    }
  }
  console.log(`ok (pop-core, signature V1): ${ACTIONS.length} actions; `
    + `output ${JSON.stringify(output)}; wrong secret rejected`);
}

main().catch((e) => fail(e.stack || e));
