# coding=utf-8
# The seed document's flow (CreateCommand -> InvokeCommand -> DescribeInvocationResults, output
# Base64-decoded) with the current official SDK, alibabacloud-ecs20140526, which signs with
# signature V3 (ACS3-HMAC-SHA256) by default. Only the endpoint differs from a cloud run.
# Exits non-zero unless the output is `123`.

import base64
import os
import sys
import time
from urllib.parse import urlparse

from alibabacloud_ecs20140526 import models
from alibabacloud_ecs20140526.client import Client
from alibabacloud_tea_openapi import models as open_api_models

endpoint = urlparse(os.environ['ECS_RUNBOOK_ENDPOINT'])
region = os.environ.get('ALIBABA_CLOUD_REGION_ID', 'cn-hangzhou')
instance = os.environ.get('ECS_SANDBOX_INSTANCE_ID', 'i-sandbox0000000000001')


def client(secret):
    return Client(open_api_models.Config(
        access_key_id=os.environ.get('ALIBABA_CLOUD_ACCESS_KEY_ID', 'sandbox'),
        access_key_secret=secret,
        region_id=region,
        endpoint=endpoint.netloc,
        protocol=endpoint.scheme,
    ))


ecs = client(os.environ.get('ALIBABA_CLOUD_ACCESS_KEY_SECRET', 'sandbox-secret'))

command_id = ecs.create_command(models.CreateCommandRequest(
    region_id=region,
    name='test',
    description='test',
    type='RunShellScript',
    command_content=base64.b64encode(b'echo 123').decode(),
)).body.command_id

invoke_id = ecs.invoke_command(models.InvokeCommandRequest(
    region_id=region,
    command_id=command_id,
    instance_id=[instance],
)).body.invoke_id

for _ in range(300):
    invocation = ecs.describe_invocations(models.DescribeInvocationsRequest(
        region_id=region, invoke_id=invoke_id)).body.invocations.invocation[0]
    if invocation.invocation_status not in ('Pending', 'Running', 'Stopping'):
        break
    time.sleep(0.1)

results = ecs.describe_invocation_results(models.DescribeInvocationResultsRequest(
    region_id=region, instance_id=instance, invoke_id=invoke_id,
)).body.invocation.invocation_results.invocation_result
output = base64.b64decode(results[0].output)
if output.strip() != b'123':
    print('FAIL: expected output 123, got %r' % (output,))
    sys.exit(1)

try:
    client('not-the-secret').describe_instances(models.DescribeInstancesRequest(region_id=region))
    print('FAIL: a wrong secret was accepted')
    sys.exit(1)
except Exception as e:  # the Tea SDK raises UnretryableException / ClientException
    if 'SignatureDoesNotMatch' not in str(e):
        print('FAIL: unexpected error for a wrong secret: %s' % (e,))
        sys.exit(1)

print('ok (signature V3): output %r; wrong secret rejected' % (output,))
