#!/bin/sh
# Installs the manifest validator of tests/integration/test_deploy.py: the npm packages pinned by
# tests/deploy/package.json + package-lock.json (kubernetes-models and its Kubernetes OpenAPI schemas, the
# Prometheus Operator models, ajv, typescript) into build/deploy-validator/node_modules with `npm ci`, so the
# install is reproducible and nothing lands in the source tree. Needs node and npm (Debian: nodejs, npm).
# Idempotent: does nothing when the installed lock matches the committed one. Usage: sh tests/deploy/install-validator.sh
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
src="$root/tests/deploy"
dest="$root/build/deploy-validator"
if ! command -v npm >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then
	echo "install-validator: node and npm are needed (apt-get install nodejs npm)" >&2
	exit 1
fi
if [ -d "$dest/node_modules" ] && cmp -s "$src/package-lock.json" "$dest/package-lock.json"; then
	exit 0
fi
mkdir -p "$dest"
cp "$src/package.json" "$src/package-lock.json" "$dest/"
cd "$dest"
# --ignore-scripts: none of these packages needs an install script. The engines warnings of kubernetes-models
# (it asks for node >= 22) are harmless: the validator runs on node 20, what this machine has.
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
echo "install-validator: installed in $dest"
