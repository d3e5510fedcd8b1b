#!/bin/sh
yum -y update {{ vars.package }}
