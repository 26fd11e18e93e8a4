#!/usr/bin/env bash
# Real FTP clients (and password-hash tools) the end-to-end tests drive. Installed from Debian's archive when missing and we
# are root; otherwise the tests that need a missing client say so and fail under CI.
set -uo pipefail
need=()
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v lftp >/dev/null 2>&1 || need+=(lftp)
command -v ftp >/dev/null 2>&1 || need+=(ftp)
command -v ncftpput >/dev/null 2>&1 || need+=(ncftp)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
# Password-hash tools: the users-file tests hash with the real htpasswd -B and mkpasswd.
command -v htpasswd >/dev/null 2>&1 || need+=(apache2-utils)
command -v mkpasswd >/dev/null 2>&1 || need+=(whois)
# The install test checks docs/pasv.service with systemd-analyze verify.
# The scale-out test puts HAProxy (send-proxy-v2) in front of two pasv nodes.
command -v haproxy >/dev/null 2>&1 || need+=(haproxy)
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing FTP clients for the end-to-end tests: ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null 2>&1 || true
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null 2>&1 \
    || echo "warning: could not install ${need[*]}" >&2
else
  echo "warning: missing FTP clients (${need[*]}); run as root or install them for the end-to-end tests" >&2
fi
exit 0
