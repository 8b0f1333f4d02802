#!/usr/bin/env bash
# Checks the rule "core's logic links neither gRPC nor sockets nor threads":
# the core unit-test binary must not depend on libgrpc*, and no core source
# may include socket or thread headers.
# Usage: core_link_check.sh <core test binary> <source root>
set -u
bin=$1 root=$2
fail=0
if ldd "$bin" | grep -E 'libgrpc|libgpr' ; then
  echo "FAIL: $bin links gRPC"; fail=1
fi
if grep -rn -E '#include <(sys/socket\.h|netinet/|arpa/inet\.h|thread|pthread\.h|asio)' \
     --include='*.h' --include='*.cc' "$root/core" | grep -v '_test\.cc:'; then
  echo "FAIL: core includes socket or thread headers"; fail=1
fi
if grep -rn -E 'grpc' --include='*.h' --include='*.cc' "$root/core" | grep -v '_test\.cc:' | grep '#include'; then
  echo "FAIL: core includes gRPC headers"; fail=1
fi
[ $fail -eq 0 ] && echo "core link check: ok"
exit $fail
