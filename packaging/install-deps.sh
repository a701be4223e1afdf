#!/usr/bin/env bash
# Installs the Debian packages that building and running smtpstatusd need, and only those that
# are missing, so that it is quick and quiet on a machine that has them. Runs as root (or
# through sudo) on Debian 12. `--test` adds what the tests drive (the README's test command
# passes it); `--fuzz` adds clang for the libFuzzer targets; `--bench` adds Sisimai
# (libsisimai-perl) for the side-by-side reasons benchmark.
set -euo pipefail

packages=(
  build-essential cmake pkg-config          # the build
  libc6-dev                                 # libc.a: the smtpstatus command is a static PIE
  libuv1-dev libprotobuf-c-dev protobuf-c-compiler libjansson-dev   # required libraries
  libvectorscan-dev                         # the reason rules: one-pass pattern matching
  libxxhash-dev                             # XXH3, the image checksum (its header only)
  libcurl4-openssl-dev                      # downloads for `smtpstatus update`
  node-llhttp                               # llhttp's C sources, for the HTTP port
  libgmime-3.0-dev                          # MIME for bounce messages (daemon, smtpstatus-bounce)
  libcmocka-dev                             # unit tests, which the default build compiles
)
test_packages=(
  python3 python3-protobuf protobuf-compiler curl jq strace   # integration tests (jq: the curl recipes)
  python3-xxhash                            # the socket test's own check of the image checksum
  python3-pytest                            # the Python package's tests (tests/python)
  dpkg-dev lintian mandoc systemd           # packaging tests: the .deb, man pages, units
  postfix                                   # the socketmap status filter, with a real Postfix
)
for arg in "$@"; do
  case $arg in
  --test) packages+=("${test_packages[@]}") ;;
  --fuzz) packages+=(clang libclang-rt-14-dev) ;;
  --bench) packages+=(libsisimai-perl) ;;   # tests/bench/run-sisimai-bench.sh: Sisimai beside us
  *) echo "install-deps: unknown option $arg (known: --test, --fuzz, --bench)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: run as root to install: ${missing[*]}" >&2; exit 1; }
  sudo=sudo
fi
echo "install-deps: installing ${missing[*]}" >&2
# Postfix is for tests/integration/test_postfix_filter.sh, which runs a private instance with its
# own configuration: install it with "No configuration" (no main.cf, so no system instance is
# configured or started), and keep its maintainer scripts from starting anything meanwhile.
policy_rc=""
if [[ " ${missing[*]} " == *" postfix "* ]]; then
  echo "postfix postfix/main_mailer_type select No configuration" | $sudo debconf-set-selections
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
    $sudo chmod 755 /usr/sbin/policy-rc.d
    policy_rc=/usr/sbin/policy-rc.d
    trap '$sudo rm -f "$policy_rc"' EXIT
  fi
fi
$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
