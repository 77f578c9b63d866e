#!/usr/bin/env bash
# The load benchmark (docs/benchmark.md): the release build of the app under the tests' own
# load generator, proxy and HTTP client (tests/bench/, on tests/app/support/).
#
#   scripts/bench.sh                 # the main table: every strategy, 5 s per scenario
#   scripts/bench.sh --smoke         # every scenario for ~1 s (what CI runs)
#   scripts/bench.sh --help          # every mode
#
# cargo builds the release binary first when the code changed. Exit status 1 when an answer
# was refused or a checked bound did not hold; 2 for an unknown option.
set -euo pipefail
cd "$(dirname "$0")/.."
# cargo-lambda, for the Lambda half of --coldstart, where scripts/lambda.sh's pip put it (pyenv
# shims may not know it yet).
PATH="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))'):$PATH"
# A DynamoDB store is compiled only with its feature.
features=()
case " $* " in *dynamodb://*) features=(--features dynamodb) ;; esac
exec cargo bench "${features[@]}" --bench bench -- "$@"
