#!/bin/sh
# Installs from Debian the real peers the benchmarks run beside pullmail:
# Postfix (smtp-source, the private MTA of bench/smtpin_bench.py) and Dovecot
# (bench/gateway_bench.py). Not part of scripts/install-deps.sh: CI's test run
# needs neither. Run as root.
set -eu
export DEBIAN_FRONTEND=noninteractive
apt-get install -y --no-install-recommends postfix dovecot-imapd
