# coding=utf-8
# The seed document's "Method 2" flow (Use the cloud assistant for automatic O&M), run with the
# official aliyun-python-sdk-core + aliyun-python-sdk-ecs against the ecs-runbook sandbox.
#
# Changes from the seed, and only these:
# - credentials, region and instance come from the environment (sandbox defaults);
# - the client is pointed at the sandbox with the SDK's own endpoint mechanism
#   (AcsClient(port=...) + add_endpoint) instead of the public endpoint;
# - Python 3: the command text is encoded to bytes before Base64;
# - the command is `echo 123`, and the fixed time.sleep(15) is replaced by polling
#   DescribeInvocations until the task is finished;
# - the script exits non-zero unless the output is `123`, and also checks that the SDK
#   recognises a wrong secret from the SignatureDoesNotMatch message (InvalidAccessKeySecret).
#
# Then the same SDK drives the other actions of the API reference (DescribeInstances,
# DescribeCloudAssistantStatus, InstallCloudAssistant, ModifyCommand, DescribeCommands,
# RunCommand, StopInvocation, DeleteCommand), checks the fields a caller reads in each JSON response, and the sandbox's
# counters prove that all twelve actions were called, every one signed V1.

import json
import logging
import os
import sys
import time
import base64
from urllib.parse import urlparse

from aliyunsdkcore import client
from aliyunsdkcore.acs_exception.exceptions import ServerException

from aliyunsdkecs.request.v20140526.CreateCommandRequest import CreateCommandRequest
from aliyunsdkecs.request.v20140526.InvokeCommandRequest import InvokeCommandRequest
from aliyunsdkecs.request.v20140526.DescribeInvocationResultsRequest import DescribeInvocationResultsRequest
from aliyunsdkecs.request.v20140526.DescribeInvocationsRequest import DescribeInvocationsRequest
from aliyunsdkecs.request.v20140526.DescribeInstancesRequest import DescribeInstancesRequest
from aliyunsdkecs.request.v20140526.DescribeCloudAssistantStatusRequest import DescribeCloudAssistantStatusRequest
from aliyunsdkecs.request.v20140526.InstallCloudAssistantRequest import InstallCloudAssistantRequest
from aliyunsdkecs.request.v20140526.ModifyCommandRequest import ModifyCommandRequest
from aliyunsdkecs.request.v20140526.DescribeCommandsRequest import DescribeCommandsRequest
from aliyunsdkecs.request.v20140526.RunCommandRequest import RunCommandRequest
from aliyunsdkecs.request.v20140526.StopInvocationRequest import StopInvocationRequest
from aliyunsdkecs.request.v20140526.DeleteCommandRequest import DeleteCommandRequest

import sandbox_stats

logging.basicConfig(level=logging.INFO,
                    format='%(asctime)s %(filename)s[line:%(lineno)d] %(levelname)s %(message)s',
                    datefmt='%a, %d %b %Y %H:%M:%S', stream=sys.stderr)

endpoint = urlparse(os.environ['ECS_RUNBOOK_ENDPOINT'])
before = sandbox_stats.stats(os.environ['ECS_RUNBOOK_ENDPOINT'])
access_key = os.environ.get('ALIBABA_CLOUD_ACCESS_KEY_ID', 'sandbox')
acess_key_secrect = os.environ.get('ALIBABA_CLOUD_ACCESS_KEY_SECRET', 'sandbox-secret')
region_name = os.environ.get('ALIBABA_CLOUD_REGION_ID', 'cn-hangzhou')
instance = os.environ.get('ECS_SANDBOX_INSTANCE_ID', 'i-sandbox0000000000001')

clt = client.AcsClient(access_key, acess_key_secrect, region_name, port=endpoint.port)
clt.add_endpoint(region_name, 'Ecs', endpoint.hostname)


def create_command(command_content, type, name, description):
    request = CreateCommandRequest()
    request.set_CommandContent(command_content)
    request.set_Type(type)
    request.set_Name(name)
    request.set_Description(description)
    response = _send_request(request)
    if response is None:
        return None
    command_id = response.get('CommandId')
    return command_id


def invoke_command(instance_id, command_id, timed, cronat):
    request = InvokeCommandRequest()
    request.set_Timed(timed)
    InstanceIds = [instance_id]
    request.set_InstanceIds(InstanceIds)
    request.set_CommandId(command_id)
    request.set_Frequency(cronat)
    response = _send_request(request)
    invoke_id = response.get('InvokeId')
    return invoke_id


def wait_finished(invoke_id):
    for _ in range(300):
        request = DescribeInvocationsRequest()
        request.set_InvokeId(invoke_id)
        response = _send_request(request)
        status = response['Invocations']['Invocation'][0]['InvocationStatus']
        if status not in ('Pending', 'Running', 'Stopping'):
            return status
        time.sleep(0.1)
    return None


def get_task_output_by_id(instance_id, invoke_id):
    logging.info("Check instance %s invoke_id is %s", instance_id, invoke_id)
    request = DescribeInvocationResultsRequest()
    request.set_InstanceId(instance_id)
    request.set_InvokeId(invoke_id)
    response = _send_request(request)
    invoke_detail = None
    output = None
    if response is not None:
        result_list = response.get('Invocation').get('InvocationResults').get('InvocationResult')
        for item in result_list:
            invoke_detail = item
            output = base64.b64decode(item.get('Output'))
            break
        return output


def execute_command(instance_id):
    command_str = 'echo 123'
    command_id = create_command(base64.b64encode(command_str.encode()).decode(), 'RunShellScript', 'test', 'test')
    if command_id is None:
        logging.info('create command failed')
        return None

    invoke_id = invoke_command(instance_id, command_id, 'false', '')
    if invoke_id is None:
        logging.info('invoke command failed')
        return None

    status = wait_finished(invoke_id)
    logging.info("invocation status: %s", status)

    output = get_task_output_by_id(instance_id, invoke_id)
    if output is None:
        logging.info('get result failed')
        return None

    logging.info("output: %s is \n", output)
    return output


# send open api request
def _send_request(request):
    request.set_accept_format('json')
    try:
        response_str = clt.do_action(request)
        logging.info(response_str)
        response_detail = json.loads(response_str)
        return response_detail
    except Exception as e:
        logging.error(e)


def wrong_secret_is_recognised():
    bad = client.AcsClient(access_key, 'not-the-secret', region_name, port=endpoint.port)
    bad.add_endpoint(region_name, 'Ecs', endpoint.hostname)
    try:
        bad.do_action_with_exception(DescribeInstancesRequest())
    except ServerException as e:
        logging.info("wrong secret: %s", e.get_error_code())
        return e.get_error_code() == 'InvalidAccessKeySecret'
    return False


def field(response, path):
    value = response
    for part in path.split('.'):
        value = value[int(part)] if part.isdigit() else value[part]
    return value


def the_other_actions(instance_id):
    """The actions the seed flow does not use; returns a list of problems."""
    problems = []

    def send(request, *required):
        request.set_accept_format('json')
        response = json.loads(clt.do_action_with_exception(request))
        name = type(request).__name__
        for path in ('RequestId',) + required:
            try:
                value = field(response, path)
            except (KeyError, IndexError, TypeError):
                value = None
            if value in (None, '', []):
                problems.append('%s: %s is missing in %r' % (name, path, response))
        return response

    listed = send(DescribeInstancesRequest(), 'Instances.Instance.0.InstanceId', 'TotalCount')
    if instance_id not in [i['InstanceId'] for i in listed['Instances']['Instance']]:
        problems.append('DescribeInstances does not list %s' % instance_id)
    request = DescribeCloudAssistantStatusRequest()
    request.set_InstanceIds([instance_id])
    send(request, 'InstanceCloudAssistantStatusSet.InstanceCloudAssistantStatus.0.CloudAssistantStatus')
    request = InstallCloudAssistantRequest()
    request.set_InstanceIds([instance_id])
    send(request)
    request = CreateCommandRequest()
    request.set_CommandContent(base64.b64encode(b'true').decode())
    request.set_Type('RunShellScript')
    request.set_Name('to-modify')
    command_id = send(request, 'CommandId')['CommandId']
    request = ModifyCommandRequest()
    request.set_CommandId(command_id)
    request.set_Name('modified')
    request.set_Timeout(90)
    send(request)
    request = DescribeCommandsRequest()
    request.set_CommandId(command_id)
    command = send(request, 'Commands.Command.0.CommandContent')['Commands']['Command'][0]
    if (command['Name'], command['Timeout']) != ('modified', 90):
        problems.append('ModifyCommand did not apply: %r' % command)
    request = DeleteCommandRequest()
    request.set_CommandId(command_id)
    send(request)
    request = RunCommandRequest()
    request.set_Type('RunShellScript')
    request.set_CommandContent('sleep 30')
    request.set_ContentEncoding('PlainText')
    request.set_InstanceIds([instance_id])
    invoke_id = send(request, 'InvokeId', 'CommandId')['InvokeId']
    for _ in range(300):
        request = DescribeInvocationsRequest()
        request.set_InvokeId(invoke_id)
        if send(request)['Invocations']['Invocation'][0]['InvocationStatus'] == 'Running':
            break
        time.sleep(0.1)
    request = StopInvocationRequest()
    request.set_InvokeId(invoke_id)
    request.set_InstanceIds([instance_id])
    send(request)
    return problems


if __name__ == '__main__':
    output = execute_command(instance)
    if output is None or output.strip() != b'123':
        print('FAIL: expected output 123, got %r' % (output,))
        sys.exit(1)
    if not wrong_secret_is_recognised():
        print('FAIL: the SDK did not recognise a wrong secret (InvalidAccessKeySecret)')
        sys.exit(1)
    problems = the_other_actions(instance)
    problems += sandbox_stats.check(before, sandbox_stats.stats(os.environ['ECS_RUNBOOK_ENDPOINT']), 'V1')
    if problems:
        print('FAIL: ' + '; '.join(problems))
        sys.exit(1)
    print('ok (aliyun-python-sdk-core, signature V1): %d actions; output %r; wrong secret recognised'
          % (len(sandbox_stats.ACTIONS), output))
