#!/bin/sh
set -eu
systemctl restart {{ vars.servce }}
