# coding=utf-8
# Shared by the Python conformance flows: the twelve actions of the API reference and the
# sandbox's own counters (GET /_sandbox/stats: calls per action, requests per signature
# version), so a flow can prove which actions it drove and how it signed them.

import json
import urllib.request

ACTIONS = (
    'DescribeInstances', 'DescribeCloudAssistantStatus', 'InstallCloudAssistant',
    'CreateCommand', 'ModifyCommand', 'DescribeCommands', 'DeleteCommand', 'InvokeCommand',
    'RunCommand', 'DescribeInvocations', 'DescribeInvocationResults', 'StopInvocation',
)


def stats(endpoint):
    with urllib.request.urlopen(endpoint.rstrip('/') + '/_sandbox/stats') as response:
        return json.load(response)


def check(before, after, signature):
    """Every action was called since `before`, and every new request was signed `signature`."""
    problems = []
    for action in ACTIONS:
        if after['calls'].get(action, 0) <= before['calls'].get(action, 0):
            problems.append('%s was never called' % action)
    for version in ('V1', 'V3'):
        grew = after['signatures'].get(version, 0) - before['signatures'].get(version, 0)
        if version != signature and grew:
            problems.append('%d requests were signed %s, not %s' % (grew, version, signature))
    return problems
