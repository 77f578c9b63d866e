#!/usr/bin/env bash
# Validates deploy/knative/*.yaml offline against Knative Serving's published schema and the
# app's deployment rules, and .devcontainer/devcontainer.json with its compose file
# (scripts/validate-manifests/devcontainer.mjs), then shows the validator refusing
# deliberately broken copies of each.
# Needs Node.js and npm. The validator's packages come from the npm registry (pinned by
# package-lock.json) the first time; once scripts/validate-manifests/node_modules holds them, it runs
# offline.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v npm >/dev/null || { echo "validate-manifests: needs Node.js and npm" >&2; exit 2; }
if npm ls --prefix scripts/validate-manifests >/dev/null 2>&1; then
  echo "validate-manifests: using the packages already in scripts/validate-manifests/node_modules (offline)"
else
  echo "validate-manifests: installing the validator's packages from the npm registry (package-lock.json)"
  npm ci --prefix scripts/validate-manifests --silent --no-audit --no-fund || {
    echo "validate-manifests: npm ci failed: the first run needs the npm registry (or its packages in npm's cache)" >&2
    exit 2
  }
fi
node scripts/validate-manifests/validate.mjs deploy/knative/*.yaml .devcontainer/devcontainer.json
node scripts/validate-manifests/validate.mjs --self-test deploy/knative/*.yaml .devcontainer/devcontainer.json
