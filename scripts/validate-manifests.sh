#!/usr/bin/env bash
# Validates deploy/knative/*.yaml offline against Knative Serving's published schema and the
# app's deployment rules, then shows the validator refusing deliberately broken copies.
# Needs Node.js and npm (the packages come from the npm registry, pinned by package-lock.json).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v npm >/dev/null || { echo "validate-manifests: needs Node.js and npm" >&2; exit 2; }
npm ci --prefix scripts/validate-manifests --silent --no-audit --no-fund
node scripts/validate-manifests/validate.mjs deploy/knative/*.yaml
node scripts/validate-manifests/validate.mjs --self-test deploy/knative/*.yaml
