#!/usr/bin/env bash
# Makes the EXAMPLE trust anchors under certs/<stack>/: a root CA and an intermediate CA shaped to
# Google Cloud's frontend mTLS requirements (CA:TRUE, keyUsage keyCertSign, EKU clientAuth, RSA 2048,
# SHA-256). Only the public certificates are kept; the private keys are thrown away, so nobody can
# issue client certificates under these anchors. For examples only: use your own PKI for real stacks.
#
#   bash certs/make-example-certs.sh dev
set -euo pipefail
stack=${1:?usage: make-example-certs.sh STACK}
out="$(cd "$(dirname "$0")" && pwd)/$stack"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"

cat > "$work/ca.cnf" <<CNF
[req]
distinguished_name = dn
prompt = no
[dn]
[ca_exts]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
CNF

openssl req -x509 -new -newkey rsa:2048 -nodes -sha256 -days 3650 \
  -keyout "$work/root.key" -out "$out/root-ca.pem" \
  -subj "/O=gke-mtls example/CN=gke-mtls $stack example root CA" \
  -config "$work/ca.cnf" -extensions ca_exts

openssl req -new -newkey rsa:2048 -nodes -sha256 \
  -keyout "$work/intermediate.key" -out "$work/intermediate.csr" \
  -subj "/O=gke-mtls example/CN=gke-mtls $stack example intermediate CA" -config "$work/ca.cnf"
openssl x509 -req -in "$work/intermediate.csr" -sha256 -days 1825 \
  -CA "$out/root-ca.pem" -CAkey "$work/root.key" -CAcreateserial -CAserial "$work/root.srl" \
  -extfile "$work/ca.cnf" -extensions ca_exts -out "$out/intermediate-ca.pem"

openssl verify -CAfile "$out/root-ca.pem" "$out/intermediate-ca.pem"
