// The CloudFormation that `serverless package` produced from serverless.yml, checked offline:
// the authorizer sits on $connect only, with the identity source of the tokenSource parameter,
// which also reaches every function as WSAUTH_TOKEN_SOURCE; every IAM statement names concrete
// resources; the sessions table has its GSIs and TTL, the revocations table its TTL; each
// function's role has exactly the actions it needs, on the tables it needs them on. TEMPLATE (the defaults: arm64, tokenSource=subprotocol), TEMPLATE_X86,
// TEMPLATE_QUERY (tokenSource=query) and TEMPLATE_HEADER (tokenSource=header) are set by
// scripts/validate-deploy.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

const load = (p) => JSON.parse(readFileSync(p, 'utf8'));
const t = load(process.env.TEMPLATE);
const R = t.Resources;
const ofType = (type) => Object.entries(R).filter(([, r]) => r.Type === type);

test('the authorizer is attached to $connect and to no other route', () => {
  const routes = ofType('AWS::ApiGatewayV2::Route');
  assert.ok(routes.length >= 8);
  const withAuth = routes.filter(([, r]) => r.Properties.AuthorizationType && r.Properties.AuthorizationType !== 'NONE');
  assert.deepEqual(withAuth.map(([, r]) => r.Properties.RouteKey), ['$connect']);
  assert.equal(withAuth[0][1].Properties.AuthorizationType, 'CUSTOM');
  const [[authId, auth]] = ofType('AWS::ApiGatewayV2::Authorizer');
  assert.deepEqual(withAuth[0][1].Properties.AuthorizerId, { Ref: authId });
  assert.equal(auth.Properties.AuthorizerType, 'REQUEST');
  assert.match(JSON.stringify(auth.Properties.AuthorizerUri), /AuthorizerLambdaFunction/);
});

// One tokenSource value sets both the authorizer's identity source and WSAUTH_TOKEN_SOURCE.
// The identity sources are the protocol's (`protocol/wire.json`, written from `wsauth-protocol`).
const wire = load(new URL('../../protocol/wire.json', import.meta.url));
const TEMPLATES = { subprotocol: 'TEMPLATE', query: 'TEMPLATE_QUERY', header: 'TEMPLATE_HEADER' };
const TOKEN_SOURCES = Object.entries(wire.token.identitySources)
  .map(([tokenSource, identitySource]) => ({ tokenSource, identitySource, env: TEMPLATES[tokenSource] }));
test('every token source of the protocol has a template', () => {
  assert.deepEqual(Object.keys(TEMPLATES).sort(), Object.keys(wire.token.identitySources).sort());
});

for (const { tokenSource, env, identitySource } of TOKEN_SOURCES) {
  const def = tokenSource === wire.token.default ? ' (the default)' : '';
  const resourcesOf = (type) => {
    assert.ok(process.env[env], `${env} is not set`);
    return Object.values(load(process.env[env]).Resources).filter((r) => r.Type === type);
  };

  test(`tokenSource=${tokenSource}${def}: the identity source is exactly ${identitySource}`, () => {
    const auths = resourcesOf('AWS::ApiGatewayV2::Authorizer');
    assert.equal(auths.length, 1);
    assert.deepEqual(auths[0].Properties.IdentitySource, [identitySource]);
  });

  test(`tokenSource=${tokenSource}${def}: every function has WSAUTH_TOKEN_SOURCE=${tokenSource}`, () => {
    const fns = resourcesOf('AWS::Lambda::Function');
    assert.equal(fns.length, 4);
    for (const fn of fns) {
      assert.equal(fn.Properties.Environment.Variables.WSAUTH_TOKEN_SOURCE, tokenSource, fn.Properties.FunctionName);
    }
  });
}

test('routes are selected by $request.body.action and every built-in route exists', () => {
  const [[, api]] = ofType('AWS::ApiGatewayV2::Api');
  assert.equal(api.Properties.ProtocolType, 'WEBSOCKET');
  assert.equal(api.Properties.RouteSelectionExpression, '$request.body.action');
  const keys = ofType('AWS::ApiGatewayV2::Route').map(([, r]) => r.Properties.RouteKey).sort();
  assert.deepEqual(keys, ['$connect', '$default', '$disconnect', 'broadcast', 'ping', 'refresh', 'sendToUser', 'whoami']);
});

test('route responses exist exactly on the routes that answer, one each, tied to its route', () => {
  // The routes that answer are the protocol's (protocol/wire.json, from wsauth-protocol).
  for (const [k, r] of Object.entries(wire.routes.builtin)) assert.equal(typeof r.answers, 'boolean', k);
  const answering = Object.entries(wire.routes.builtin).filter(([, r]) => r.answers).map(([k]) => k).sort();
  assert.ok(answering.length > 0, 'no answering route: the check would be vacuous');
  const routeKey = (id) => R[id]?.Properties?.RouteKey;
  const responses = ofType('AWS::ApiGatewayV2::RouteResponse');
  for (const [id, r] of responses) assert.equal(r.Properties.RouteResponseKey, '$default', id);
  const answered = responses.map(([, r]) => routeKey(r.Properties.RouteId.Ref)).sort();
  assert.deepEqual(answered, answering, 'a route response per answering route, on no other');
  const twoWay = ofType('AWS::ApiGatewayV2::Route')
    .filter(([, r]) => r.Properties.RouteResponseSelectionExpression === '$default')
    .map(([, r]) => r.Properties.RouteKey).sort();
  assert.deepEqual(twoWay, answering, 'RouteResponseSelectionExpression on exactly the answering routes');
});

const ROLE_ACTIONS = {
  AuthorizerRole: ['logs:CreateLogStream', 'logs:PutLogEvents'],
  ConnectRole: ['dynamodb:ConditionCheckItem', 'dynamodb:DeleteItem', 'dynamodb:PutItem', 'logs:CreateLogStream',
    'logs:PutLogEvents'],
  RoutesRole: ['dynamodb:BatchGetItem', 'dynamodb:ConditionCheckItem', 'dynamodb:DeleteItem', 'dynamodb:Query',
    'dynamodb:Scan', 'dynamodb:UpdateItem', 'execute-api:ManageConnections', 'logs:CreateLogStream',
    'logs:PutLogEvents'],
  PushRole: ['dynamodb:DeleteItem', 'dynamodb:Query', 'dynamodb:Scan', 'dynamodb:UpdateItem',
    'execute-api:ManageConnections', 'logs:CreateLogStream', 'logs:PutLogEvents'],
};

// What each role may do to the revocations table: connect only checks them (inside its
// transactions), routes checks them (refresh) and reads them (every message), push only writes them.
const REVOCATION_ACTIONS = {
  AuthorizerRole: [],
  ConnectRole: ['dynamodb:ConditionCheckItem'],
  RoutesRole: ['dynamodb:BatchGetItem', 'dynamodb:ConditionCheckItem'],
  PushRole: ['dynamodb:UpdateItem'],
};

const statements = (role) => role.Properties.Policies.flatMap((p) => p.PolicyDocument.Statement);
const asList = (x) => (Array.isArray(x) ? x : [x]);

test('each function runs under its own role with exactly the actions it needs', () => {
  const fns = ofType('AWS::Lambda::Function');
  assert.equal(fns.length, 4);
  for (const [id, fn] of fns) {
    const roleId = fn.Properties.Role['Fn::GetAtt'][0];
    assert.equal(roleId, id.replace('LambdaFunction', 'Role'), `${id} runs as ${roleId}`);
  }
  for (const [roleId, want] of Object.entries(ROLE_ACTIONS)) {
    const actions = [...new Set(statements(R[roleId]).flatMap((s) => asList(s.Action)))].sort();
    assert.deepEqual(actions, want, roleId);
    assert.ok(statements(R[roleId]).every((s) => s.Effect === 'Allow'));
  }
  assert.equal(ofType('AWS::IAM::Role').length, 4, 'no other (default) role');
});

test('the revocations table is checked by connect and routes, read by routes and written by push only', () => {
  const onRevocations = (s) => asList(s.Resource).some((r) => JSON.stringify(r).includes('RevocationsTable'));
  for (const [roleId, want] of Object.entries(REVOCATION_ACTIONS)) {
    const got = [...new Set(statements(R[roleId]).filter(onRevocations).flatMap((s) => asList(s.Action)))].sort();
    assert.deepEqual(got, want, roleId);
  }
  for (const [roleId, role] of ofType('AWS::IAM::Role')) {
    for (const s of statements(role)) {
      if (asList(s.Action).includes('dynamodb:ConditionCheckItem')) {
        assert.deepEqual(s.Resource, { 'Fn::GetAtt': ['RevocationsTable', 'Arn'] }, `${roleId}: condition checks on revocations only`);
      }
    }
  }
});

test('the revocations table: key target, TTL on ttl, on-demand, encrypted; every function knows its name', () => {
  const p = R.RevocationsTable.Properties;
  assert.deepEqual(p.KeySchema, [{ AttributeName: 'target', KeyType: 'HASH' }]);
  assert.equal(p.BillingMode, 'PAY_PER_REQUEST');
  assert.deepEqual(p.TimeToLiveSpecification, { AttributeName: 'ttl', Enabled: true });
  assert.equal(p.SSESpecification.SSEEnabled, true);
  for (const [, fn] of ofType('AWS::Lambda::Function')) {
    const vars = fn.Properties.Environment.Variables;
    assert.equal(vars.WSAUTH_REVOCATIONS_TABLE, p.TableName);
    assert.equal(vars.WSAUTH_MAX_TOKEN_LIFETIME_SECONDS, '86400');
  }
});

test('the authorizer has no DynamoDB access at all', () => {
  assert.ok(!JSON.stringify(R.AuthorizerRole).includes('dynamodb'));
});

test('every IAM statement names concrete resources of this stack', () => {
  for (const [roleId, role] of ofType('AWS::IAM::Role')) {
    for (const s of statements(role)) {
      for (const res of asList(s.Resource)) {
        assert.notEqual(res, '*', `${roleId}: a "*" resource`);
        const text = JSON.stringify(res);
        const concrete =
          (res['Fn::GetAtt'] && R[res['Fn::GetAtt'][0]]) ||
          (typeof res['Fn::Sub'] === 'string' && /\$\{(SessionsTable\.Arn|\w+LogGroup\.Arn|WebsocketsApi)\}/.test(res['Fn::Sub']));
        assert.ok(concrete, `${roleId}: ${text} is not a resource of this stack`);
      }
      const acts = asList(s.Action);
      if (acts.includes('dynamodb:Scan')) assert.deepEqual(s.Resource, { 'Fn::GetAtt': ['SessionsTable', 'Arn'] }, 'Scan only on the table');
      if (acts.includes('dynamodb:Query')) {
        for (const r of asList(s.Resource)) assert.match(JSON.stringify(r), /index\/(byUser|bySession)"/, 'Query only on the indexes');
      }
      if (acts.includes('execute-api:ManageConnections')) {
        // This API's stage, the two methods the functions call (no GetConnection).
        const methods = asList(s.Resource).map((r) => {
          const m = /\$\{WebsocketsApi\}\/[^/]+\/(POST|DELETE)\/@connections\/\*$/.exec(r['Fn::Sub']);
          assert.ok(m, `${roleId}: ${JSON.stringify(r)}: this API's @connections, POST or DELETE only`);
          return m[1];
        });
        assert.deepEqual(methods.sort(), ['DELETE', 'POST']);
      }
    }
  }
});

test('the sessions table has the byUser and bySession indexes, TTL on ttl, on-demand billing and encryption', () => {
  const p = R.SessionsTable.Properties;
  assert.deepEqual(p.KeySchema, [{ AttributeName: 'connectionId', KeyType: 'HASH' }]);
  assert.equal(p.BillingMode, 'PAY_PER_REQUEST');
  const gsi = p.GlobalSecondaryIndexes.find((g) => g.IndexName === 'byUser');
  assert.deepEqual(gsi.KeySchema, [
    { AttributeName: 'userId', KeyType: 'HASH' },
    { AttributeName: 'connectedAt', KeyType: 'RANGE' },
  ]);
  assert.equal(gsi.Projection.ProjectionType, 'ALL');
  const bySession = p.GlobalSecondaryIndexes.find((g) => g.IndexName === 'bySession');
  assert.deepEqual(bySession.KeySchema, [
    { AttributeName: 'sessionId', KeyType: 'HASH' },
    { AttributeName: 'connectedAt', KeyType: 'RANGE' },
  ]);
  assert.equal(p.GlobalSecondaryIndexes.length, 2);
  assert.deepEqual(p.TimeToLiveSpecification, { AttributeName: 'ttl', Enabled: true });
  assert.equal(p.SSESpecification.SSEEnabled, true);
  assert.deepEqual(t.Conditions.PitrEnabled, { 'Fn::Equals': ['false', 'true'] }, 'point-in-time recovery off by default');
});

test('functions run provided.al2023 on arm64 by default, x86_64 by parameter', () => {
  for (const [, fn] of ofType('AWS::Lambda::Function')) {
    assert.equal(fn.Properties.Runtime, 'provided.al2023');
    assert.equal(fn.Properties.Handler, 'bootstrap');
    assert.deepEqual(fn.Properties.Architectures, ['arm64']);
    assert.equal(fn.Properties.Environment.Variables.WSAUTH_TABLE['Fn::Sub'] ?? fn.Properties.Environment.Variables.WSAUTH_TABLE, R.SessionsTable.Properties.TableName);
  }
  const x86 = load(process.env.TEMPLATE_X86);
  for (const [, fn] of Object.entries(x86.Resources).filter(([, r]) => r.Type === 'AWS::Lambda::Function')) {
    assert.deepEqual(fn.Properties.Architectures, ['x86_64']);
  }
});

test('log retention is set on every function log group', () => {
  const groups = ofType('AWS::Logs::LogGroup');
  assert.equal(groups.length, 4);
  for (const [, g] of groups) assert.ok(g.Properties.RetentionInDays > 0);
});
