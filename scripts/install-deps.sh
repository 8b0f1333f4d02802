#!/usr/bin/env bash
# Installs the Debian packages pullmail needs, skipping what is already there.
# Idempotent; needs root (or sudo). Usage: scripts/install-deps.sh
set -euo pipefail

packages=(
  cmake g++ pkg-config ccache
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libssl-dev libsqlite3-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libsimgrid-dev libasio-dev libgmime-3.0-dev libtomlplusplus-dev
  gnuplot-nox openssl python3 procps
  # IDNA domain normalisation (core/util/address.cc NormalizeDomain)
  libidn2-dev
  # libFuzzer and its sanitizer runtimes for fuzz/ (scripts/fuzz.sh, CI's fuzz stage)
  clang libclang-rt-14-dev
  # real mail clients the gateway's interop tests drive (tests/e2e/test_gateway_*.py)
  fetchmail isync swaks libnet-ssleay-perl curl
  # the PostgreSQL store back end (libpq) and the server its tests start (tests/pg/pg_server.py)
  libpq-dev
  postgresql
  # the authoritative DNS server the DNS directory's e2e tests start (tests/e2e/dns_server.py)
  knot
  # c-ares, the DNS client library of the DNS directory (rpc/cares_resolver.cc)
  libc-ares-dev
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
    missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "install-deps: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
