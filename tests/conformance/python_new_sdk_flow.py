# coding=utf-8
# The current official SDK, alibabacloud-ecs20140526 (Tea), against the sandbox: the seed
# document's flow (CreateCommand -> InvokeCommand -> DescribeInvocationResults, output
# Base64-decoded) inside a pass over all twelve actions of the API reference.
#
#   python_new_sdk_flow.py v3   the SDK's default, signature V3 (ACS3-HMAC-SHA256)
#   python_new_sdk_flow.py v2   Config(signature_algorithm='v2'): signature V1 (HMAC-SHA1)
#
# Every response goes through the SDK's typed models: the raw map the SDK received must come
# back unchanged from the model's to_map() (so the model knows every field the sandbox sent),
# from_map(to_map()) must round-trip, and the fields a caller reads must be populated. The
# sandbox's counters then prove that all twelve actions were called and how they were signed.
# Only the endpoint differs from a cloud run. Exits non-zero on the first failure.

import base64
import os
import sys
import time
from urllib.parse import urlparse

from alibabacloud_ecs20140526 import models
from alibabacloud_ecs20140526.client import Client
from alibabacloud_tea_openapi import models as open_api_models

import sandbox_stats

mode = sys.argv[1] if len(sys.argv) > 1 else 'v3'
if mode not in ('v2', 'v3'):
    sys.exit('usage: python_new_sdk_flow.py v2|v3')
url = os.environ['ECS_RUNBOOK_ENDPOINT']
endpoint = urlparse(url)
region = os.environ.get('ALIBABA_CLOUD_REGION_ID', 'cn-hangzhou')
instance = os.environ.get('ECS_SANDBOX_INSTANCE_ID', 'i-sandbox0000000000001')


def fail(message):
    print('FAIL (Tea SDK, signature %s): %s' % (mode, message))
    sys.exit(1)


def client(secret):
    ecs = Client(open_api_models.Config(
        access_key_id=os.environ.get('ALIBABA_CLOUD_ACCESS_KEY_ID', 'sandbox'),
        access_key_secret=secret,
        region_id=region,
        endpoint=endpoint.netloc,
        protocol=endpoint.scheme,
        signature_algorithm='v2' if mode == 'v2' else None,
    ))
    # Keep what the SDK received before its models saw it.
    received = []
    call_api = ecs.call_api

    def recording(*args, **kwargs):
        raw = call_api(*args, **kwargs)
        received.append(raw)
        return raw

    ecs.call_api = recording
    ecs.received = received
    return ecs


ecs = client(os.environ.get('ALIBABA_CLOUD_ACCESS_KEY_SECRET', 'sandbox-secret'))


def call(method, request, *required):
    """One typed call; checks the models against the raw response and returns the body."""
    name = method.__name__
    response = method(request)
    raw = ecs.received[-1]['body']
    body = response.body
    if body.to_map() != raw:
        fail('%s: the model dropped or changed fields: sent %r, model has %r'
             % (name, raw, body.to_map()))
    again = type(body)().from_map(body.to_map())
    if again.to_map() != body.to_map():
        fail('%s: from_map(to_map()) does not round-trip' % name)
    whole = type(response)().from_map(response.to_map())
    if whole.body.to_map() != raw or whole.status_code != 200:
        fail('%s: the response does not round-trip (status %r)' % (name, whole.status_code))
    if not body.request_id:
        fail('%s: no RequestId' % name)
    for path in required:
        value = body
        for part in path.split('.'):
            value = value[int(part)] if part.isdigit() else getattr(value, part)
        if value is None or value == '' or value == []:
            fail('%s: %s is empty' % (name, path))
    return body


def wait(invoke_id, done):
    for _ in range(300):
        body = call(ecs.describe_invocations, models.DescribeInvocationsRequest(
            region_id=region, invoke_id=invoke_id),
            'invocations.invocation.0.invocation_status',
            'invocations.invocation.0.invoke_instances.invoke_instance.0.instance_id',
            'total_count')
        status = body.invocations.invocation[0].invocation_status
        if status in done:
            return status
        time.sleep(0.1)
    fail('invocation %s never reached %s' % (invoke_id, done))


before = sandbox_stats.stats(url)

instances = call(ecs.describe_instances, models.DescribeInstancesRequest(region_id=region),
                 'instances.instance.0.instance_id', 'instances.instance.0.status',
                 'instances.instance.0.ostype', 'total_count')
if instance not in [i.instance_id for i in instances.instances.instance]:
    fail('DescribeInstances does not list %s' % instance)

agents = call(ecs.describe_cloud_assistant_status,
              models.DescribeCloudAssistantStatusRequest(region_id=region, instance_id=[instance]),
              'instance_cloud_assistant_status_set.instance_cloud_assistant_status.0.instance_id',
              'instance_cloud_assistant_status_set.instance_cloud_assistant_status.0'
              '.cloud_assistant_status')
status = agents.instance_cloud_assistant_status_set.instance_cloud_assistant_status[0]
if status.cloud_assistant_status != 'true':
    fail('the agent of %s is not running: %r' % (instance, status.to_map()))

call(ecs.install_cloud_assistant,
     models.InstallCloudAssistantRequest(region_id=region, instance_id=[instance]))

command_id = call(ecs.create_command, models.CreateCommandRequest(
    region_id=region,
    name='test',
    description='test',
    type='RunShellScript',
    command_content=base64.b64encode(b'echo 123').decode(),
), 'command_id').command_id

call(ecs.modify_command, models.ModifyCommandRequest(
    region_id=region, command_id=command_id, description='modified', timeout=90))

commands = call(ecs.describe_commands, models.DescribeCommandsRequest(
    region_id=region, command_id=command_id),
    'commands.command.0.command_content', 'commands.command.0.type',
    'commands.command.0.creation_time')
command = commands.commands.command[0]
if (command.description, command.timeout) != ('modified', 90):
    fail('ModifyCommand did not apply: %r' % command.to_map())

invoke_id = call(ecs.invoke_command, models.InvokeCommandRequest(
    region_id=region,
    command_id=command_id,
    instance_id=[instance],
), 'invoke_id').invoke_id
wait(invoke_id, ('Success', 'Failed', 'PartialFailed', 'Stopped'))

results = call(ecs.describe_invocation_results, models.DescribeInvocationResultsRequest(
    region_id=region, instance_id=instance, invoke_id=invoke_id,
), 'invocation.invocation_results.invocation_result.0.output',
    'invocation.invocation_results.invocation_result.0.invocation_status',
    'invocation.invocation_results.invocation_result.0.finished_time',
).invocation.invocation_results.invocation_result
output = base64.b64decode(results[0].output)
if output.strip() != b'123':
    fail('expected output 123, got %r' % (output,))

run = call(ecs.run_command, models.RunCommandRequest(
    region_id=region,
    type='RunShellScript',
    command_content='sleep 30',
    content_encoding='PlainText',
    instance_id=[instance],
), 'invoke_id', 'command_id')
wait(run.invoke_id, ('Running',))
call(ecs.stop_invocation, models.StopInvocationRequest(
    region_id=region, invoke_id=run.invoke_id, instance_id=[instance]))
wait(run.invoke_id, ('Stopped',))

call(ecs.delete_command, models.DeleteCommandRequest(region_id=region, command_id=command_id))

problems = sandbox_stats.check(before, sandbox_stats.stats(url), 'V1' if mode == 'v2' else 'V3')
if problems:
    fail('; '.join(problems))

try:
    client('not-the-secret').describe_instances(models.DescribeInstancesRequest(region_id=region))
    fail('a wrong secret was accepted')
except Exception as e:  # the Tea SDK raises UnretryableException / ClientException
    if 'SignatureDoesNotMatch' not in str(e):
        fail('unexpected error for a wrong secret: %s' % (e,))

print('ok (Tea SDK, signature %s): %d actions, typed models round-trip; output %r; '
      'wrong secret rejected' % (mode, len(sandbox_stats.ACTIONS), output))
