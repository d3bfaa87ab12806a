#!/usr/bin/env bash
# Refresh constraints.txt, the exact versions CI installs, from a fresh virtualenv that
# takes the newest releases pyproject.toml's ranges allow. Run it on purpose, read the
# diff, run `bash .ci/run`, and commit both together.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m venv "$tmp/venv"
"$tmp/venv/bin/pip" install -q --upgrade pip setuptools
"$tmp/venv/bin/pip" install -q -e '.[test,mutation]'
{
  echo "# Exact versions CI installs (.ci/run: pip install -c constraints.txt -e '.[test]')."
  echo "# pyproject.toml keeps ranges for users; refresh with scripts/update-constraints.sh."
  "$tmp/venv/bin/pip" freeze --all --exclude-editable | grep -v -i '^newsmirror\|^wheel='
} > constraints.txt
echo "constraints.txt: $(grep -vc '^#' constraints.txt) packages"
