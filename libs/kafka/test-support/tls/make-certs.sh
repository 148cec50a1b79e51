#!/usr/bin/env bash
# Regenerates the TLS fixtures of the fake-broker tests (test keys, never used outside tests): a CA, a broker
# certificate for localhost/127.0.0.1, a client certificate, and an unrelated CA.
# Valid from 2000-01-01 (made under libfaketime) for 100 years, so they hold under any clock a test runs with —
# `npm run test:clocks` moves the test process's clock back by up to a week.
set -euo pipefail
cd "$(dirname "$0")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ssl() { faketime '2000-01-01 00:00:00' openssl "$@"; }
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
days=36500

key "$work/ca.key"
ssl req -x509 -new -key "$work/ca.key" -subj '/CN=Vigie test CA' -days $days -out ca.pem \
  -addext 'basicConstraints=critical,CA:TRUE' -addext 'keyUsage=critical,keyCertSign,cRLSign'
key "$work/other-ca.key"
ssl req -x509 -new -key "$work/other-ca.key" -subj '/CN=Some other CA' -days $days -out other-ca.pem \
  -addext 'basicConstraints=critical,CA:TRUE' -addext 'keyUsage=critical,keyCertSign,cRLSign'

leaf() { # name CN extensions
  key "$1.key"
  openssl req -new -key "$1.key" -subj "/CN=$2" -out "$work/$1.csr"
  printf '%s\n' "$3" >"$work/$1.ext"
  ssl x509 -req -in "$work/$1.csr" -CA ca.pem -CAkey "$work/ca.key" -CAcreateserial -CAserial "$work/ca.srl" \
    -days $days -extfile "$work/$1.ext" -out "$1.pem" 2>/dev/null
}
leaf broker localhost $'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth'
leaf client vigie-test-client 'extendedKeyUsage=clientAuth'
chmod 0644 ./*.pem ./*.key
