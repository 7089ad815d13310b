#!/usr/bin/env bash
# Installs what KaroKar needs and is missing: Debian packages (protobuf-c, protobuf's descriptor.proto,
# libpq, PostgreSQL; HAProxy and curl for Deploy/scale-out.sh; openssl, which the TLS tests make their
# certificates with; pgbouncer, which the pooler tests run in front of PostgreSQL) and
# the Python tools used by code generation and linting (protobuf, buf). Idempotent; quiet when
# everything is present. Needs root (or sudo) only when something must be installed.
set -euo pipefail

apt_packages=(libprotobuf-c-dev protobuf-c-compiler libprotobuf-dev libpq-dev postgresql postgresql-contrib haproxy curl openssl pgbouncer)
pip_packages=(buf-bin protobuf aiosmtpd)

missing=()
for package in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
fi

python3 -c 'import google.protobuf, aiosmtpd' 2>/dev/null && command -v buf >/dev/null || {
  echo "installing Python packages: ${pip_packages[*]}"
  python3 -m pip install -q --disable-pip-version-check "${pip_packages[@]}"
}
command -v swift >/dev/null || { echo "swift is not on PATH (Swift 6.1 or later is required)" >&2; exit 1; }
