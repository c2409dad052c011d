// IAM evaluated offline (#31 item 4): each Lambda function's role in the CloudFormation that
// `serverless package` produced from serverless.yml, held to the exact AWS calls the function
// makes at run time, as (IAM action, resource ARN).
//
// tests/deploy/calls.json says what those calls are: the SessionStore and Connections methods each
// function's code uses, what the deployed implementations (DynamoSessionStore, ApiGwConnections)
// send for each method, and what the Lambda service does with every role (the function's logs).
// Read its `_about`. This file
//   1. finds each function's role (Properties.Role) and every statement attached to it in the
//      template: inline Policies, AWS::IAM::Policy / RolePolicy / ManagedPolicy resources naming
//      the role; a managed policy from outside the template has unknown statements and fails;
//   2. resolves the CloudFormation in the statements (Ref, Fn::GetAtt, Fn::Sub, Fn::Join) to
//      concrete ARNs, with sample pseudo parameters (aws, us-east-1, 123456789012); anything it
//      cannot resolve fails, loudly, and is never skipped;
//   3. evaluates IAM as AWS does for one identity policy set: an explicit Deny that matches wins,
//      else an Allow whose action (case-insensitive) and resource (case-sensitive) match, else
//      denied. `*` and `?` are IAM's wildcards. What it does not model (NotAction, NotResource,
//      Condition, Principal, a permissions boundary, policy variables) fails as unsupported, so
//      nobody can add it without extending the evaluator;
//   4. requires every call of every function to be allowed by its own role, and, the other way,
//      every action and every resource of every Allow statement to be needed by one of those
//      calls: no unused grant, no "*" resource, no wildcard action;
//   5. proves it can fail: mutated copies of the template (a ManageConnections ARN for another
//      stage, method or API, the sessions table without its index ARN, a renamed revocations
//      table, a removed action, an added Deny, another function's log group…) each report exactly
//      the calls they lose;
//   6. holds calls.json to the Rust sources (a regex scan with comments, string contents and
//      #[cfg(test)] items blanked): every `.send()` in the crates the functions are built from is
//      an SDK operation calls.json lists (or a send it lists as not AWS); each store and
//      @connections method sends what calls.json says (operations, transaction items, tables,
//      indexes); each function's code uses exactly the methods listed for it, where listed. Each
//      guard is shown to catch a mutation of the table or of the code.
// TEMPLATE (the defaults: arm64, tokenSource=subprotocol), TEMPLATE_X86, TEMPLATE_QUERY and
// TEMPLATE_HEADER are set by scripts/validate-deploy; the role checks run on each.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';

const ROOT = new URL('../../', import.meta.url);
const readText = (rel) => readFileSync(new URL(rel, ROOT), 'utf8');
const CALLS = JSON.parse(readText('tests/deploy/calls.json'));
const asList = (x) => (x === undefined ? [] : Array.isArray(x) ? x : [x]);
const sorted = (xs) => [...new Set(xs)].sort();

const TEMPLATE_VARS = ['TEMPLATE', 'TEMPLATE_X86', 'TEMPLATE_QUERY', 'TEMPLATE_HEADER'];
const loadTemplate = (env) => {
  assert.ok(process.env[env], `${env} is not set (scripts/validate-deploy sets it)`);
  return JSON.parse(readFileSync(process.env[env], 'utf8'));
};

// ---------------------------------------------------------------------------------------------
// Samples: what the template leaves to deploy time.

const PSEUDO = {
  'AWS::Partition': 'aws',
  'AWS::Region': 'us-east-1',
  'AWS::AccountId': '123456789012',
  'AWS::URLSuffix': 'amazonaws.com',
};
const SAMPLE_CONNECTION_ID = 'L0SM9cOFvHcCIhw=';
const SAMPLE_LOG_STREAM = '2026/12/03/[$LATEST]0123456789abcdef0123456789abcdef';
// An API's ID is assigned at deployment: a sample per API resource, distinct for distinct APIs.
const sampleApiId = (logicalId) => `${logicalId.toLowerCase().replace(/[^a-z0-9]/g, '')}0000000000`.slice(0, 10);
const arnOf = (service, rest) =>
  `arn:${PSEUDO['AWS::Partition']}:${service}:${PSEUDO['AWS::Region']}:${PSEUDO['AWS::AccountId']}:${rest}`;

// ---------------------------------------------------------------------------------------------
// CloudFormation: the intrinsics IAM statements and function settings use, resolved to strings.
// Anything else throws, naming what it could not resolve.

function resolver(t) {
  const R = t.Resources;
  const fail = (what, v) => {
    throw new Error(`cannot resolve ${what}: ${JSON.stringify(v)}`);
  };
  const resource = (id) => R[id] ?? fail('a reference to something not in the template', id);
  const named = (id, prop) => {
    const v = resource(id).Properties?.[prop];
    if (v === undefined) fail(`${id}: a ${R[id].Type} without ${prop} (CloudFormation would make a name up)`, id);
    return value(v);
  };
  const ref = (id) => {
    if (id in PSEUDO) return PSEUDO[id];
    switch (resource(id).Type) {
      case 'AWS::DynamoDB::Table': return named(id, 'TableName');
      case 'AWS::Logs::LogGroup': return named(id, 'LogGroupName');
      case 'AWS::Lambda::Function': return named(id, 'FunctionName');
      case 'AWS::ApiGatewayV2::Api': return sampleApiId(id);
      default: return fail(`Ref to a ${R[id].Type}`, id);
    }
  };
  const getAtt = (id, attr) => {
    const type = resource(id).Type;
    if (attr === 'Arn' && type === 'AWS::DynamoDB::Table') return arnOf('dynamodb', `table/${ref(id)}`);
    if (attr === 'Arn' && type === 'AWS::Logs::LogGroup') return arnOf('logs', `log-group:${ref(id)}:*`);
    if (attr === 'Arn' && type === 'AWS::Lambda::Function') return arnOf('lambda', `function:${ref(id)}`);
    return fail(`Fn::GetAtt ${attr} of a ${type}`, [id, attr]);
  };
  // Fn::Sub: ${Name} is a variable of the list form, a pseudo parameter or a Ref; ${Id.Attr} a
  // GetAtt; ${!Literal} the text ${Literal}.
  const sub = (text, vars) =>
    text.replace(/\$\{(!?)([^}]*)\}/g, (_, literal, name) => {
      if (literal) return `\${${name}}`;
      if (name in vars) return value(vars[name]);
      if (name in PSEUDO || !name.includes('.')) return ref(name);
      const [id, attr] = name.split(/\.(.*)/);
      return getAtt(id, attr);
    });
  const value = (v) => {
    if (typeof v === 'string') return v;
    const keys = v && typeof v === 'object' && !Array.isArray(v) ? Object.keys(v) : [];
    if (keys.length === 1) {
      const [k] = keys;
      const a = v[k];
      if (k === 'Ref') return ref(a);
      if (k === 'Fn::GetAtt') {
        const [id, attr] = typeof a === 'string' ? a.split(/\.(.*)/) : a;
        return getAtt(id, attr);
      }
      if (k === 'Fn::Join' && Array.isArray(a?.[1])) return a[1].map(value).join(a[0]);
      if (k === 'Fn::Sub') return typeof a === 'string' ? sub(a, {}) : sub(a[0], a[1] ?? {});
    }
    return fail('an expression this evaluator does not know', v);
  };
  return value;
}

// ---------------------------------------------------------------------------------------------
// IAM: statements, matching, the decision.

// Actions: case-insensitive; `*` any run of characters, `?` any one.
const actionMatches = (pattern, action) =>
  new RegExp(`^${pattern.split('').map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[^\w]/g, '\\$&'))).join('')}$`, 'i')
    .test(action);

// Resources: case-sensitive. A wildcard stays within its colon-separated ARN segment, except a `*`
// that ends a segment, which may run on past the colons (IAM's rule: `log-group:name:*` covers
// `log-group:name:log-stream:x`).
const resourceMatches = (pattern, arn) =>
  pattern === '*' ||
  new RegExp(`^${pattern.split('').map((c, i) => {
    if (c === '*') return i + 1 === pattern.length || pattern[i + 1] === ':' ? '.*' : '[^:]*';
    if (c === '?') return '[^:]';
    return c.replace(/[^\w]/g, '\\$&');
  }).join('')}$`).test(arn);

const MODELLED = new Set(['Sid', 'Effect', 'Action', 'Resource']);

// A policy document's statements, resolved: { where, effect, actions, resources }.
function statementsOf(value, source, doc) {
  if (doc?.Version !== '2012-10-17') throw new Error(`${source}: policy Version ${doc?.Version}, not 2012-10-17`);
  return asList(doc.Statement).map((s, i) => {
    const where = `${source} statement ${s.Sid ?? i + 1}`;
    for (const k of Object.keys(s)) {
      if (!MODELLED.has(k)) throw new Error(`${where}: ${k} is not supported by this evaluator`);
    }
    if (s.Effect !== 'Allow' && s.Effect !== 'Deny') throw new Error(`${where}: Effect ${s.Effect}`);
    const actions = asList(s.Action);
    const resources = asList(s.Resource).map(value);
    if (!actions.length || !resources.length) throw new Error(`${where}: no Action or no Resource`);
    for (const a of actions) {
      if (typeof a !== 'string' || !/^(\*|[A-Za-z0-9-]+:[A-Za-z0-9*?]+)$/.test(a)) throw new Error(`${where}: action ${JSON.stringify(a)}`);
    }
    for (const r of resources) {
      if (r.includes('${')) throw new Error(`${where}: ${r} holds an IAM policy variable, not supported`);
      if (r !== '*' && !/^arn:[^:]*:[^:]*:[^:]*:[^:]*:./.test(r)) throw new Error(`${where}: ${r} is not an ARN`);
    }
    return { where, effect: s.Effect, actions, resources };
  });
}

// Every statement that applies to role `roleId`.
function roleStatements(t, roleId) {
  const R = t.Resources;
  const role = R[roleId];
  assert.equal(role?.Type, 'AWS::IAM::Role', `${roleId} is not a role of the template`);
  if (role.Properties.PermissionsBoundary) throw new Error(`${roleId}: a permissions boundary is not supported by this evaluator`);
  const value = resolver(t);
  const docs = asList(role.Properties.Policies).map((p) => ({ source: `${roleId} policy ${p.PolicyName}`, doc: p.PolicyDocument }));
  const attached = new Set();
  for (const arn of asList(role.Properties.ManagedPolicyArns)) {
    if (R[arn?.Ref]?.Type !== 'AWS::IAM::ManagedPolicy') {
      throw new Error(`${roleId}: managed policy ${JSON.stringify(arn)} is not in the template: its statements are unknown`);
    }
    attached.add(arn.Ref);
  }
  for (const [id, r] of Object.entries(R)) {
    if (!['AWS::IAM::Policy', 'AWS::IAM::RolePolicy', 'AWS::IAM::ManagedPolicy'].includes(r.Type)) continue;
    const targets = r.Type === 'AWS::IAM::RolePolicy' ? [r.Properties.RoleName] : asList(r.Properties.Roles);
    for (const target of targets) {
      if (typeof target !== 'string' && !(target && Object.keys(target).length === 1 && typeof target.Ref === 'string')) {
        throw new Error(`${id}: cannot tell which role ${JSON.stringify(target)} is`);
      }
      if (target?.Ref === roleId || (target === role.Properties.RoleName && target !== undefined)) attached.add(id);
    }
  }
  for (const id of sorted(attached)) docs.push({ source: `${id} (${R[id].Type})`, doc: R[id].Properties.PolicyDocument });
  return docs.flatMap(({ source, doc }) => statementsOf(value, source, doc));
}

// The decision on one request: an explicit Deny wins over any Allow; no Allow is a denial too.
function decide(statements, action, arn) {
  const matching = statements.filter(
    (s) => s.actions.some((p) => actionMatches(p, action)) && s.resources.some((p) => resourceMatches(p, arn)),
  );
  if (matching.some((s) => s.effect === 'Deny')) return 'explicitly denied';
  return matching.length ? 'allowed' : 'implicitly denied';
}

// ---------------------------------------------------------------------------------------------
// What each function calls, from calls.json, made concrete for a template.

const logicalIdOf = (name) => `${name[0].toUpperCase()}${name.slice(1)}LambdaFunction`;

// The WebSocket API whose connections the functions manage (the API of the $connect route), and
// its stage.
function webSocketApi(t, value) {
  const R = t.Resources;
  const connects = Object.values(R).filter((r) => r.Type === 'AWS::ApiGatewayV2::Route' && r.Properties.RouteKey === '$connect');
  assert.equal(connects.length, 1, 'one $connect route');
  const apiId = connects[0].Properties.ApiId?.Ref;
  assert.equal(R[apiId]?.Type, 'AWS::ApiGatewayV2::Api', 'the $connect route belongs to an API of the template');
  const stages = Object.values(R).filter((r) => r.Type === 'AWS::ApiGatewayV2::Stage' && r.Properties.ApiId?.Ref === apiId);
  assert.equal(stages.length, 1, `one stage of ${apiId}`);
  return { ApiId: value({ Ref: apiId }), Stage: value(stages[0].Properties.StageName) };
}

// The index names, as the code has them (session/src/dynamo/schema.rs).
const INDEX_CONSTS = Object.fromEntries(
  [...readText('session/src/dynamo/schema.rs').matchAll(/pub const (\w+_INDEX): &str = "([^"]+)";/g)].map((m) => [m[1], m[2]]),
);

// Function `name`'s calls in template `t`: [{ action, arn, why: [...] }], one per distinct pair.
function functionCalls(t, name) {
  const spec = CALLS.functions[name];
  assert.ok(spec, `calls.json has no function ${name}`);
  const fn = t.Resources[logicalIdOf(name)];
  assert.equal(fn?.Type, 'AWS::Lambda::Function', `${logicalIdOf(name)} is not a function of the template`);
  const value = resolver(t);
  const env = fn.Properties.Environment?.Variables ?? {};
  let api;
  const placeholder = (k) => {
    if (k in PSEUDO) return PSEUDO[k];
    if (k.startsWith('WSAUTH_')) {
      if (env[k] === undefined) throw new Error(`${name}: no ${k} in its Environment`);
      return value(env[k]);
    }
    if (k in INDEX_CONSTS) return INDEX_CONSTS[k];
    if (k === 'ApiId' || k === 'Stage') return (api ??= webSocketApi(t, value))[k];
    if (k === 'ConnectionId') return SAMPLE_CONNECTION_ID;
    if (k === 'LogStream') return SAMPLE_LOG_STREAM;
    if (k === 'LogGroup') {
      const group = fn.Properties.LoggingConfig?.LogGroup;
      return group === undefined ? `/aws/lambda/${value(fn.Properties.FunctionName)}` : value(group);
    }
    throw new Error(`calls.json: unknown placeholder \${${k}}`);
  };
  const arn = (key) => {
    const template = CALLS.arns[key];
    if (template === undefined) throw new Error(`calls.json: no ARN ${key}`);
    return template.replace(/\$\{([^}]+)\}/g, (_, k) => placeholder(k));
  };
  const out = new Map();
  const add = (action, key, why) => {
    const c = { action, arn: arn(key) };
    const id = `${c.action} ${c.arn}`;
    if (!out.has(id)) out.set(id, { ...c, why: [] });
    out.get(id).why.push(why);
  };
  for (const use of spec.uses) {
    const entries = CALLS.methods[use.method];
    if (!entries) throw new Error(`calls.json: ${name} uses ${use.method}, which methods does not list`);
    for (const e of entries) add(e.action, e.arn, `${use.method} (${use.at}): ${e.what}`);
  }
  for (const r of CALLS.runtime) add(r.action, r.arn, r.what);
  return [...out.values()];
}

// The role of function `name`: one of the template's own roles, or its policies are unknown.
function roleIdOf(t, name) {
  const role = t.Resources[logicalIdOf(name)].Properties.Role;
  const att = role?.['Fn::GetAtt'];
  const [id, attr] = typeof att === 'string' ? att.split(/\.(.*)/) : asList(att);
  if (attr !== 'Arn' || t.Resources[id]?.Type !== 'AWS::IAM::Role') {
    throw new Error(`${name} runs as ${JSON.stringify(role)}, not a role of this template: its policies are unknown`);
  }
  return id;
}

// The audit of one function: the calls its role does not allow, and what its role grants beyond them.
function audit(t, name) {
  const calls = functionCalls(t, name);
  const statements = roleStatements(t, roleIdOf(t, name));
  const missing = calls
    .map((c) => ({ ...c, decision: decide(statements, c.action, c.arn) }))
    .filter((c) => c.decision !== 'allowed')
    .map((c) => `${c.action} ${c.arn} (${c.decision})`);
  const excess = [];
  const used = (actions, resources) =>
    calls.some((c) => actions.some((a) => actionMatches(a, c.action)) && resources.some((r) => resourceMatches(r, c.arn)));
  for (const s of statements.filter((x) => x.effect === 'Allow')) {
    for (const r of s.resources) if (r === '*') excess.push(`${s.where}: Resource "*"`);
    for (const a of s.actions) if (/[*?]/.test(a)) excess.push(`${s.where}: wildcard action ${a}`);
    for (const a of s.actions) if (!used([a], s.resources)) excess.push(`${s.where}: ${a} is needed by no call`);
    for (const r of s.resources) if (!used(s.actions, [r])) excess.push(`${s.where}: ${r} is needed by no call`);
  }
  return { calls, missing, excess };
}

// ---------------------------------------------------------------------------------------------
// The roles, on every packaged template.

test('every function of the template is in calls.json, and the other way', () => {
  const t = loadTemplate('TEMPLATE');
  const fns = Object.entries(t.Resources).filter(([, r]) => r.Type === 'AWS::Lambda::Function').map(([id]) => id);
  assert.deepEqual(sorted(fns), sorted(Object.keys(CALLS.functions).map(logicalIdOf)));
});

// calls.json's `runtime` is all the Lambda service does with a role only while a function has no
// dead-letter queue, VPC, active tracing, file system or customer key (each needs more of it).
const RUNTIME_NEUTRAL = new Set(['Code', 'Handler', 'Runtime', 'FunctionName', 'MemorySize', 'Timeout', 'Architectures',
  'Environment', 'Role', 'Description', 'Tags', 'Layers', 'EphemeralStorage', 'LoggingConfig', 'ReservedConcurrentExecutions']);
test('no function setting makes the Lambda service use the role beyond the logs', () => {
  for (const env of TEMPLATE_VARS) {
    const t = loadTemplate(env);
    for (const [id, r] of Object.entries(t.Resources)) {
      if (r.Type === 'AWS::Lambda::EventInvokeConfig') assert.equal(r.Properties.DestinationConfig, undefined, `${env} ${id}`);
      if (r.Type !== 'AWS::Lambda::Function') continue;
      for (const k of Object.keys(r.Properties)) assert.ok(RUNTIME_NEUTRAL.has(k), `${env} ${id}: ${k} (extend calls.json runtime)`);
    }
  }
});

for (const env of TEMPLATE_VARS) {
  for (const name of Object.keys(CALLS.functions)) {
    test(`${env}: every call of ${name} is allowed by its role`, () => {
      const { calls, missing } = audit(loadTemplate(env), name);
      assert.ok(calls.length >= 2, 'at least its logs');
      assert.deepEqual(missing, [], `${name}'s role does not allow these calls`);
    });

    test(`${env}: ${name}'s role grants nothing its calls do not need`, () => {
      assert.deepEqual(audit(loadTemplate(env), name).excess, []);
    });
  }
}

// ---------------------------------------------------------------------------------------------
// The evaluator can fail: mutated copies of TEMPLATE, each losing exactly the calls named.

test('IAM matching: wildcards, case, segments', () => {
  assert.ok(actionMatches('dynamodb:getitem', 'dynamodb:GetItem'), 'actions are case-insensitive');
  assert.ok(actionMatches('dynamodb:Get*', 'dynamodb:GetItem'));
  assert.ok(actionMatches('dynamodb:?etItem', 'dynamodb:GetItem'));
  assert.ok(!actionMatches('dynamodb:Get', 'dynamodb:GetItem'), 'whole action');
  assert.ok(!actionMatches('dynamodb:GetItem', 'dynamodb:BatchGetItem'), 'whole action');
  const table = arnOf('dynamodb', 'table/t');
  assert.ok(resourceMatches(table, table));
  assert.ok(!resourceMatches(arnOf('dynamodb', 'table/T'), table), 'resources are case-sensitive');
  assert.ok(!resourceMatches(table, `${table}/index/byUser`), 'a table ARN does not cover its indexes');
  assert.ok(resourceMatches(`${table}/index/*`, `${table}/index/byUser`));
  assert.ok(resourceMatches(`${table}*`, `${table}/index/byUser`));
  assert.ok(resourceMatches('arn:aws:logs:us-east-1:123456789012:log-group:g:*', 'arn:aws:logs:us-east-1:123456789012:log-group:g:log-stream:s'));
  assert.ok(!resourceMatches('arn:aws:logs:us-east-1:123456789012:log-group:g*x', 'arn:aws:logs:us-east-1:123456789012:log-group:g:x'),
    'a * inside a segment stays in it');
  assert.ok(resourceMatches('arn:aws:dynamodb:*:123456789012:table/t', table));
  assert.ok(!resourceMatches('arn:aws:dynamodb:us-east-?:123456789012:table/t', arnOf('dynamodb', 'table/t').replace('us-east-1', 'us-east-12')));
  const allow = { effect: 'Allow', actions: ['dynamodb:*'], resources: [table] };
  const deny = { effect: 'Deny', actions: ['dynamodb:PutItem'], resources: ['*'] };
  assert.equal(decide([allow], 'dynamodb:PutItem', table), 'allowed');
  assert.equal(decide([allow, deny], 'dynamodb:PutItem', table), 'explicitly denied');
  assert.equal(decide([deny, allow], 'dynamodb:GetItem', table), 'allowed');
  assert.equal(decide([], 'dynamodb:GetItem', table), 'implicitly denied');
});

// The template once more, with `change` made to a copy of it.
const mutated = (change) => {
  const t = structuredClone(loadTemplate('TEMPLATE'));
  change(t.Resources, t);
  return t;
};
// The statements of one inline policy of a role.
const inline = (R, roleId, policyName) => {
  const p = R[roleId].Properties.Policies.find((x) => x.PolicyName === policyName);
  assert.ok(p, `${roleId} has no policy ${policyName}`);
  return p.PolicyDocument.Statement;
};
const findStatement = (R, roleId, policyName, action) => {
  const s = inline(R, roleId, policyName).find((x) => asList(x.Action).includes(action));
  assert.ok(s, `${roleId} ${policyName}: no statement with ${action}`);
  return s;
};
// The concrete ARNs the mutations lose, spelled out (TEMPLATE read when a test first needs it, so
// that the source guards below run without it).
let fixture;
const base = () => {
  if (!fixture) {
    const t = loadTemplate('TEMPLATE');
    fixture = { t, env: t.Resources.ConnectLambdaFunction.Properties.Environment.Variables, ...webSocketApi(t, resolver(t)) };
  }
  return fixture;
};
const tableArn = (table, index = '') => arnOf('dynamodb', `table/${table}${index && `/index/${index}`}`);
const sessionsArn = (index) => tableArn(base().env.WSAUTH_TABLE, index);
const revocationsArn = () => tableArn(base().env.WSAUTH_REVOCATIONS_TABLE);
const connectionArn = (method) => arnOf('execute-api', `${base().ApiId}/${base().Stage}/${method}/@connections/${SAMPLE_CONNECTION_ID}`);
const logArn = (fn) =>
  arnOf('logs', `log-group:/aws/lambda/${base().t.Resources[logicalIdOf(fn)].Properties.FunctionName}:log-stream:${SAMPLE_LOG_STREAM}`);
const manageConnections = (R, roleId) => findStatement(R, roleId, 'connections', 'execute-api:ManageConnections');

// Each resource of a statement rewritten by `f` (its `Fn::Sub` string).
const subEach = (s, f) => {
  s.Resource = asList(s.Resource).map((r) => {
    assert.equal(typeof r['Fn::Sub'], 'string', JSON.stringify(r));
    return { 'Fn::Sub': f(r['Fn::Sub']) };
  });
};

test('mutation: ManageConnections for another stage loses both @connections calls', () => {
  const t = mutated((R) => {
    const s = manageConnections(R, 'RoutesRole');
    subEach(s, (sub) => {
      assert.ok(sub.includes(`/${base().Stage}/`), sub);
      return sub.replace(`/${base().Stage}/`, '/other/');
    });
  });
  assert.deepEqual(audit(t, 'routes').missing, [
    `execute-api:ManageConnections ${connectionArn('POST')} (implicitly denied)`,
    `execute-api:ManageConnections ${connectionArn('DELETE')} (implicitly denied)`,
  ]);
  assert.deepEqual(audit(t, 'push').missing, [], 'the other role is untouched');
});

test('mutation: ManageConnections for POST only loses DeleteConnection', () => {
  const t = mutated((R) => {
    const s = manageConnections(R, 'PushRole');
    subEach(s, (sub) => sub.replace(/\/(\*|DELETE)\/@connections\//, '/POST/@connections/'));
  });
  assert.deepEqual(audit(t, 'push').missing, [`execute-api:ManageConnections ${connectionArn('DELETE')} (implicitly denied)`]);
});

test('mutation: ManageConnections on another API loses both @connections calls', () => {
  const t = mutated((R) => {
    R.OtherApi = structuredClone(R.WebsocketsApi);
    const s = manageConnections(R, 'RoutesRole');
    subEach(s, (sub) => sub.replace('${WebsocketsApi}', '${OtherApi}'));
  });
  assert.deepEqual(audit(t, 'routes').missing, [
    `execute-api:ManageConnections ${connectionArn('POST')} (implicitly denied)`,
    `execute-api:ManageConnections ${connectionArn('DELETE')} (implicitly denied)`,
  ]);
});

test('mutation: Query on the sessions table instead of its byUser index loses the query', () => {
  const t = mutated((R) => {
    findStatement(R, 'RoutesRole', 'bindings', 'dynamodb:Query').Resource = { 'Fn::GetAtt': ['SessionsTable', 'Arn'] };
  });
  const { missing, excess } = audit(t, 'routes');
  assert.deepEqual(missing, [`dynamodb:Query ${sessionsArn('byUser')} (implicitly denied)`]);
  assert.ok(excess.some((e) => e.endsWith(`${sessionsArn()} is needed by no call`)), excess.join('\n'));
});

test('mutation: the bySession index dropped from push loses logoutSession\'s query', () => {
  const t = mutated((R) => {
    const s = findStatement(R, 'PushRole', 'bindings', 'dynamodb:Query');
    s.Resource = s.Resource.filter((r) => !JSON.stringify(r).includes('bySession'));
  });
  assert.deepEqual(audit(t, 'push').missing, [`dynamodb:Query ${sessionsArn('bySession')} (implicitly denied)`]);
});

test('mutation: the revocations table renamed (the functions still name the old one) loses every revocation call', () => {
  const t = mutated((R) => {
    R.RevocationsTable.Properties.TableName = `${base().env.WSAUTH_REVOCATIONS_TABLE}-2`;
  });
  const old = revocationsArn();
  assert.deepEqual(audit(t, 'connect').missing, [`dynamodb:ConditionCheckItem ${old} (implicitly denied)`]);
  assert.deepEqual(audit(t, 'routes').missing, [
    `dynamodb:BatchGetItem ${old} (implicitly denied)`,
    `dynamodb:ConditionCheckItem ${old} (implicitly denied)`,
  ]);
  assert.deepEqual(audit(t, 'push').missing, [`dynamodb:UpdateItem ${old} (implicitly denied)`]);
  assert.deepEqual(audit(t, 'authorizer').missing, []);
});

test('mutation: DeleteItem removed from connect loses $disconnect\'s unbind', () => {
  const t = mutated((R) => {
    const s = findStatement(R, 'ConnectRole', 'bindings', 'dynamodb:DeleteItem');
    s.Action = s.Action.filter((a) => a !== 'dynamodb:DeleteItem');
  });
  assert.deepEqual(audit(t, 'connect').missing, [`dynamodb:DeleteItem ${sessionsArn()} (implicitly denied)`]);
});

test('mutation: an attached Deny wins over the role\'s Allow', () => {
  const t = mutated((R) => {
    R.NoDeletes = {
      Type: 'AWS::IAM::Policy',
      Properties: {
        PolicyName: 'no-deletes',
        Roles: [{ Ref: 'PushRole' }],
        PolicyDocument: {
          Version: '2012-10-17',
          Statement: [{ Effect: 'Deny', Action: 'DynamoDB:delete*', Resource: { 'Fn::Sub': '${SessionsTable.Arn}' } }],
        },
      },
    };
  });
  assert.deepEqual(audit(t, 'push').missing, [`dynamodb:DeleteItem ${sessionsArn()} (explicitly denied)`]);
  assert.deepEqual(audit(t, 'routes').missing, [], 'attached to push only');
});

test('mutation: the authorizer writing to another function\'s log group loses its logs', () => {
  const t = mutated((R) => {
    inline(R, 'AuthorizerRole', 'logs')[0].Resource = { 'Fn::Sub': '${ConnectLogGroup.Arn}' };
  });
  assert.deepEqual(audit(t, 'authorizer').missing, [
    `logs:CreateLogStream ${logArn('authorizer')} (implicitly denied)`,
    `logs:PutLogEvents ${logArn('authorizer')} (implicitly denied)`,
  ]);
});

test('mutation: grants beyond the calls are reported', () => {
  const t = mutated((R) => {
    findStatement(R, 'ConnectRole', 'bindings', 'dynamodb:PutItem').Action.push('dynamodb:GetItem');
    inline(R, 'ConnectRole', 'bindings').push(
      { Effect: 'Allow', Action: ['dynamodb:PutItem'], Resource: '*' },
      { Effect: 'Allow', Action: ['dynamodb:*'], Resource: { 'Fn::GetAtt': ['RevocationsTable', 'Arn'] } },
      { Effect: 'Allow', Action: ['dynamodb:Query'], Resource: { 'Fn::Sub': '${SessionsTable.Arn}/index/*' } },
    );
  });
  assert.deepEqual(audit(t, 'connect').excess, [
    'ConnectRole policy bindings statement 1: dynamodb:GetItem is needed by no call',
    'ConnectRole policy bindings statement 3: Resource "*"',
    'ConnectRole policy bindings statement 4: wildcard action dynamodb:*',
    'ConnectRole policy bindings statement 5: dynamodb:Query is needed by no call',
    `ConnectRole policy bindings statement 5: ${sessionsArn('*')} is needed by no call`,
  ]);
});

test('what the evaluator does not model fails loudly', () => {
  const cases = {
    'Condition is not supported': (R) => { inline(R, 'PushRole', 'bindings')[0].Condition = { Bool: { 'aws:SecureTransport': true } }; },
    'NotAction is not supported': (R) => { inline(R, 'PushRole', 'bindings').push({ Effect: 'Deny', NotAction: 'dynamodb:Query', Resource: '*' }); },
    'NotResource is not supported': (R) => {
      const s = inline(R, 'PushRole', 'bindings')[0];
      s.NotResource = s.Resource;
      delete s.Resource;
    },
    'is not in the template: its statements are unknown': (R) => {
      R.PushRole.Properties.ManagedPolicyArns = ['arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole'];
    },
    'a permissions boundary is not supported': (R) => { R.PushRole.Properties.PermissionsBoundary = 'arn:aws:iam::123456789012:policy/b'; },
    'cannot resolve an expression this evaluator does not know': (R) => {
      inline(R, 'PushRole', 'bindings')[0].Resource = { 'Fn::ImportValue': 'sessions-arn' };
    },
    'cannot resolve Ref to a AWS::IAM::Role': (R) => {
      inline(R, 'PushRole', 'bindings')[0].Resource = { 'Fn::Sub': 'arn:aws:dynamodb:::${PushRole}' };
    },
    'cannot resolve a reference to something not in the template': (R) => {
      inline(R, 'PushRole', 'bindings')[0].Resource = { Ref: 'SessionsTableArnParameter' };
    },
    'not a role of this template': (R) => { R.PushLambdaFunction.Properties.Role = 'arn:aws:iam::123456789012:role/elsewhere'; },
    'holds an IAM policy variable': (R) => {
      inline(R, 'PushRole', 'bindings')[0].Resource = { 'Fn::Sub': '${SessionsTable.Arn}/${!aws:username}' };
    },
  };
  for (const [message, change] of Object.entries(cases)) {
    assert.throws(() => audit(mutated(change), 'push'), (e) => e.message.includes(message), message);
  }
});

// ---------------------------------------------------------------------------------------------
// calls.json held to the Rust sources.

// A Rust file's code with comments and the contents of string and char literals blanked
// (newlines kept, so offsets and line numbers stay), and every #[cfg(test)] item blanked: what
// the scans read, so that no comment, message or test counts as a call.
function rustCode(text) {
  const out = text.split('');
  const blank = (from, to) => {
    for (let k = from; k < to; k++) if (out[k] !== '\n') out[k] = ' ';
  };
  for (let i = 0; i < text.length;) {
    const rest = text.slice(i, i + 8);
    const raw = /^b?r(#*)"/.exec(rest);
    if (rest.startsWith('//')) {
      const end = text.indexOf('\n', i) < 0 ? text.length : text.indexOf('\n', i);
      blank(i, end);
      i = end;
    } else if (rest.startsWith('/*')) {
      const close = text.indexOf('*/', i + 2);
      const end = close < 0 ? text.length : close + 2;
      blank(i, end);
      i = end;
    } else if (raw && !/\w/.test(text[i - 1] ?? '')) {
      const close = `"${raw[1]}`;
      const end = text.indexOf(close, i + raw[0].length);
      blank(i + raw[0].length, end);
      i = end + close.length;
    } else if (text[i] === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      blank(i + 1, j);
      i = j + 1;
    } else if (text[i] === "'" && (text[i + 1] === '\\' || text[i + 2] === "'")) {
      const end = text[i + 1] === '\\' ? text.indexOf("'", i + 3) : i + 2; // a char literal, not a lifetime
      blank(i + 1, end);
      i = end + 1;
    } else {
      i += 1;
    }
  }
  const code = out.join('');
  for (const m of code.matchAll(/#\[cfg\(test\)\]/g)) {
    const brace = code.indexOf('{', m.index);
    const semi = code.indexOf(';', m.index);
    blank(m.index, semi >= 0 && (brace < 0 || semi < brace) ? semi + 1 : blockEnd(code, brace));
  }
  return out.join('');
}

// The offset just past the `}` that closes the `{` at `open`.
function blockEnd(code, open) {
  let depth = 0;
  for (let i = open; i < code.length; i++) {
    if (code[i] === '{') depth += 1;
    if (code[i] === '}' && --depth === 0) return i + 1;
  }
  throw new Error(`unbalanced braces after offset ${open}`);
}

const lineOf = (code, offset) => code.slice(0, offset).split('\n').length;
const lastMatch = (text, re) => [...text.matchAll(re)].pop();
// The fn a piece of code is in: the last `fn name` before it.
const enclosingFn = (code, offset) => lastMatch(code.slice(0, offset), /\bfn\s+(\w+)/g)?.[1] ?? '(no fn)';
// "file Type::fn" → { file, fn } (calls.json's `site` and `at`).
const siteOf = (s) => {
  const [file, where = ''] = s.split(' ');
  return { file, fn: where.split('::').pop() };
};

// The Rust sources, read once; `overlay` replaces files' text (the guards' own mutation tests).
function rustSources(overlay = {}) {
  const cache = new Map();
  return {
    // A file, or every .rs file under a directory (ending in /); null if there is none.
    files(rel) {
      const url = new URL(rel, ROOT);
      if (!existsSync(url)) return null;
      if (statSync(url).isFile()) return [rel];
      return readdirSync(url, { recursive: true }).filter((f) => f.endsWith('.rs')).sort().map((f) => `${rel.replace(/\/?$/, '/')}${f}`);
    },
    code(rel) {
      if (!cache.has(rel)) cache.set(rel, rustCode(overlay[rel] ?? readText(rel)));
      return cache.get(rel);
    },
  };
}

// The workspace crates the four functions are built from: the crates of their sources and those
// crates' wsauth-* dependencies, transitively (Cargo.toml's [dependencies], not dev-dependencies).
function deployedCrates(calls) {
  const paths = Object.fromEntries(
    [...readText('Cargo.toml').matchAll(/^(wsauth-[\w-]+)\s*=\s*\{\s*path\s*=\s*"([^"]+)"/gm)].map((m) => [m[1], m[2]]),
  );
  const todo = Object.values(calls.functions).flatMap((f) => f.sources.map((s) => s.split('/')[0]));
  const seen = new Set();
  while (todo.length) {
    const dir = todo.pop();
    if (seen.has(dir)) continue;
    seen.add(dir);
    const deps = readText(`${dir}/Cargo.toml`).split(/^\[/m).find((s) => s.startsWith('dependencies]')) ?? '';
    for (const [, dep] of deps.matchAll(/^(wsauth-[\w-]+)/gm)) {
      assert.ok(paths[dep], `${dir}/Cargo.toml: ${dep} is not a path dependency of the workspace`);
      todo.push(paths[dep]);
    }
  }
  return sorted(seen);
}

// Every `.send()` of the deployed crates, with its fn and the SDK operation it sends: the last
// `client.op()` (or `client(…)?.op()`) before it in that fn; null when there is none (not AWS).
const SDK_OP = /\bclient\s*(?:\([^()]*\)\s*\??\s*)?\.\s*([a-z][a-z0-9_]*)\s*\(\s*\)/g;
function sdkSends(calls, sources) {
  const found = [];
  for (const crate of deployedCrates(calls)) {
    for (const file of sources.files(`${crate}/src/`) ?? []) {
      const code = sources.code(file);
      for (const m of code.matchAll(/\.\s*send\s*\(\s*\)/g)) {
        const before = code.slice(0, m.index);
        const fnAt = lastMatch(before, /\bfn\s+(\w+)/g);
        const op = lastMatch(before.slice(fnAt?.index ?? 0), SDK_OP)?.[1] ?? null;
        found.push({ file, fn: fnAt?.[1] ?? '(no fn)', op, line: lineOf(code, m.index) });
      }
    }
  }
  return found;
}

// Guard 1: the sends in the code and those calls.json lists (methods, notInFunctions, notAws) are
// the same, operation by operation and fn by fn.
function sendProblems(calls, sources) {
  const key = (file, fn, op) => `${file} ${fn}: ${op ?? '(not AWS)'}`;
  const found = new Map(sdkSends(calls, sources).map((s) => [key(s.file, s.fn, s.op), s.line]));
  const listed = new Set([
    ...Object.values(calls.methods).flat().concat(calls.notInFunctions).map((e) => key(siteOf(e.site).file, siteOf(e.site).fn, e.op)),
    ...calls.notAws.map((e) => key(siteOf(e.site).file, siteOf(e.site).fn, null)),
  ]);
  return [
    ...[...found].filter(([k]) => !listed.has(k)).map(([k, line]) => `the code sends ${k} (line ${line}), which calls.json does not list`),
    ...[...listed].filter((k) => !found.has(k)).map((k) => `calls.json lists ${k}, which the code does not send`),
  ];
}

// The fns declared at the top level of the block opening at `open` (a trait's or an impl's): name
// → body, or null for a trait method without a default.
function fnsOf(code, open) {
  const end = blockEnd(code, open);
  const fns = new Map();
  const re = /\bfn\s+(\w+)/g;
  re.lastIndex = open + 1;
  for (let m = re.exec(code); m && m.index < end; m = re.exec(code)) {
    const brace = code.indexOf('{', m.index);
    const semi = code.indexOf(';', m.index);
    if (semi >= 0 && semi < brace) {
      fns.set(m[1], null);
      re.lastIndex = semi;
    } else {
      re.lastIndex = blockEnd(code, brace);
      fns.set(m[1], code.slice(brace, re.lastIndex));
    }
  }
  return fns;
}
const traitFns = (sources, iface) => {
  const code = sources.code(CALLS.interfaces[iface].trait);
  const m = new RegExp(String.raw`\btrait\s+${iface}\b[^{]*\{`).exec(code);
  assert.ok(m, `${CALLS.interfaces[iface].trait} declares no trait ${iface}`);
  return fnsOf(code, m.index + m[0].length - 1);
};
const implFns = (sources, { impl, type }) => {
  const code = sources.code(impl);
  const fns = new Map();
  for (const m of code.matchAll(new RegExp(String.raw`\bimpl(?:<[^>]*>)?\s+(?:[\w:]+\s+for\s+)?${type}\s*\{`, 'g'))) {
    for (const [name, body] of fnsOf(code, m.index + m[0].length - 1)) fns.set(name, body);
  }
  assert.ok(fns.size, `${impl} has no impl of ${type}`);
  return fns;
};

// What IAM authorizes for each SDK operation; a transaction is authorized per item instead.
const OP_ACTION = {
  get_item: 'dynamodb:GetItem', put_item: 'dynamodb:PutItem', update_item: 'dynamodb:UpdateItem',
  delete_item: 'dynamodb:DeleteItem', batch_get_item: 'dynamodb:BatchGetItem', query: 'dynamodb:Query',
  scan: 'dynamodb:Scan', post_to_connection: 'execute-api:ManageConnections',
  delete_connection: 'execute-api:ManageConnections', get_connection: 'execute-api:ManageConnections',
};
const TRANSACT_ITEM_ACTION = { Put: 'dynamodb:PutItem', Update: 'dynamodb:UpdateItem', Delete: 'dynamodb:DeleteItem',
  ConditionCheck: 'dynamodb:ConditionCheckItem' };
// The HTTP method of each @connections operation: its ARN's method segment (connection/METHOD).
const OP_METHOD = { post_to_connection: 'POST', delete_connection: 'DELETE', get_connection: 'GET' };
// DynamoSessionStore's fields naming its tables, and the ARNs (calls.json arns) they are.
const TABLE_FIELDS = { table: 'sessions', revocations_table: 'revocations' };

// Guard 2: each method of SessionStore and Connections is in calls.json, sending what the deployed
// implementation's code sends: the method's fn (or the trait's default) and every `self.f(` it
// reaches, transitively, send exactly the operations calls.json lists at those fns; the actions
// follow from the operations (a transaction's from its items' builders); the tables and indexes
// named in that code are those of the ARNs listed.
function methodProblems(calls, sources) {
  const problems = [];
  const sends = sdkSends(calls, sources);
  for (const [iface, spec] of Object.entries(calls.interfaces)) {
    const declared = traitFns(sources, iface);
    const implemented = implFns(sources, spec);
    for (const key of Object.keys(calls.methods).filter((k) => k.startsWith(`${iface}::`))) {
      if (!declared.has(key.split('::')[1])) problems.push(`calls.json lists ${key}, which ${spec.trait} does not declare`);
    }
    for (const name of declared.keys()) {
      const method = `${iface}::${name}`;
      const entries = calls.methods[method];
      if (!entries) {
        problems.push(`${method} (${spec.trait}) is not in calls.json methods`);
        continue;
      }
      const reached = new Map();
      const visit = (fn) => {
        const body = implemented.get(fn) ?? declared.get(fn);
        if (reached.has(fn) || body == null) return;
        reached.set(fn, body);
        for (const [, callee] of body.matchAll(/\bself\s*\.\s*(\w+)\s*\(/g)) visit(callee);
      };
      visit(name);
      if (!reached.has(name)) {
        problems.push(`${method}: neither ${spec.type} nor the trait has a body for it`);
        continue;
      }
      const code = [...reached.values()].join('\n');
      const sent = sends.filter((s) => s.file === spec.impl && reached.has(s.fn));
      const say = (what, inCode, inCalls) => {
        if (JSON.stringify(sorted(inCode)) !== JSON.stringify(sorted(inCalls))) {
          problems.push(`${method}: ${what}: the code has ${JSON.stringify(sorted(inCode))}, calls.json ${JSON.stringify(sorted(inCalls))}`);
        }
      };
      say('operations', sent.map((s) => `${s.op} in ${s.fn}`),
        entries.map((e) => `${e.op} in ${siteOf(e.site).fn}`));
      for (const e of entries) {
        if (siteOf(e.site).file !== spec.impl) problems.push(`${method}: site ${e.site} is not in ${spec.impl}`);
      }
      const items = sorted([...code.matchAll(/\b(Put|Update|Delete|ConditionCheck)::builder\b/g)].map((m) => TRANSACT_ITEM_ACTION[m[1]]));
      const actions = sent.flatMap((s) => (s.op === 'transact_write_items' ? items : [OP_ACTION[s.op] ?? `(${s.op}: unknown to this test)`]));
      say('actions', actions, entries.map((e) => e.action));
      const tables = [...code.matchAll(/\bself\s*\.\s*(table|revocations_table)\b/g)].map((m) => TABLE_FIELDS[m[1]]);
      const dynamo = entries.filter((e) => e.action.startsWith('dynamodb:'));
      say('tables', tables, dynamo.map((e) => e.arn.split('/')[0]));
      // An index is read only when the request names one (`.index_name(`); its name comes from
      // the constants of schema.rs.
      const indexes = !/\.\s*index_name\s*\(/.test(code) ? [] :
        Object.keys(INDEX_CONSTS).filter((c) => new RegExp(String.raw`\b${c}\b`).test(code)).map((c) => INDEX_CONSTS[c]);
      say('indexes', indexes, dynamo.filter((e) => e.arn.includes('/')).map((e) => e.arn.split('/')[1]));
      const connections = sent.filter((s) => s.op in OP_METHOD).map((s) => `connection/${OP_METHOD[s.op]}`);
      say('@connections ARNs', connections, entries.filter((e) => e.action.startsWith('execute-api:')).map((e) => e.arn));
      for (const e of entries) if (!(e.arn in calls.arns)) problems.push(`${method}: no ARN ${e.arn} in calls.json arns`);
    }
  }
  return problems;
}

// Guard 3: the methods each function's code uses, found as `receiver.method(` (store.bind(,
// connections.post(, s.store.revoke(, ctx.services.store\n.extend(…), are exactly its listed uses,
// fn by fn; and the code keeps to those receiver names for every value of the two traits (or of
// their implementations), so that the scan sees every use.
function useProblems(calls, sources) {
  const problems = [];
  const methods = Object.fromEntries(Object.keys(calls.interfaces).map((iface) => [iface, [...traitFns(sources, iface).keys()]]));
  const covered = new Set();
  for (const [name, f] of Object.entries(calls.functions)) {
    const files = f.sources.flatMap((s) => sources.files(s) ?? (problems.push(`${name}: source ${s} does not exist`), []));
    files.forEach((file) => covered.add(file));
    const found = new Map();
    for (const file of files) {
      const code = sources.code(file);
      for (const [iface, { receiver, type }] of Object.entries(calls.interfaces)) {
        for (const method of methods[iface]) {
          for (const m of code.matchAll(new RegExp(String.raw`\b${receiver}\s*\.\s*${method}\s*\(`, 'g'))) {
            found.set(`${iface}::${method} at ${file} ${enclosingFn(code, m.index)}`, lineOf(code, m.index));
          }
        }
        const types = `(?:dyn\\s+)?(?:${iface}|${type})\\b`;
        const declarations = [
          new RegExp(String.raw`\b(\w+)\s*:\s*(?:&\s*(?:mut\s+)?)?(?:(?:Arc|Box|Rc)\s*<\s*)?${types}`, 'g'),
          new RegExp(String.raw`\blet\s+(?:mut\s+)?(\w+)\s*=\s*(?:Arc::new\(\s*)?${type}::`, 'g'),
          new RegExp(String.raw`\blet\s+(?:mut\s+)?(\w+)\s*=\s*&?\s*(?:\w+\s*\.\s*)*${receiver}\s*;`, 'g'),
        ];
        for (const re of declarations) {
          for (const m of code.matchAll(re)) {
            if (m[1] !== receiver) problems.push(`${file}:${lineOf(code, m.index)}: a ${iface} named ${m[1]}, not ${receiver}: the scan would not see its uses`);
          }
        }
      }
    }
    const listed = new Set();
    for (const use of f.uses) {
      const at = siteOf(use.at);
      if (!files.includes(at.file)) problems.push(`${name}: ${use.method} at ${use.at}, not one of its sources`);
      listed.add(`${use.method} at ${at.file} ${at.fn}`);
    }
    for (const [k, line] of found) if (!listed.has(k)) problems.push(`${name} uses ${k} (line ${line}), not in calls.json`);
    for (const k of listed) if (!found.has(k)) problems.push(`${name}: calls.json says it uses ${k}; the code there does not`);
  }
  // A use in a file no function lists would go unseen: there is none.
  const receivers = Object.values(calls.interfaces).map((i) => i.receiver).join('|');
  const anyMethod = Object.values(methods).flat().join('|');
  const impls = new Set(Object.values(calls.interfaces).map((i) => i.impl));
  for (const crate of deployedCrates(calls)) {
    for (const file of sources.files(`${crate}/src/`) ?? []) {
      if (covered.has(file) || impls.has(file)) continue;
      const m = new RegExp(String.raw`\b(?:${receivers})\s*\.\s*(?:${anyMethod})\s*\(`).exec(sources.code(file));
      if (m) problems.push(`${file}:${lineOf(sources.code(file), m.index)} calls ${m[0]}, and no function lists ${file} in its sources`);
    }
  }
  return problems;
}

test('calls.json: every .send() of the deployed crates is listed, and every listed one is in the code', () => {
  const sends = sdkSends(CALLS, rustSources());
  assert.ok(sends.filter((s) => s.op).length >= 10, 'the scan finds the SDK calls');
  assert.deepEqual(sendProblems(CALLS, rustSources()), []);
});

test('calls.json: each store and @connections method sends what the table says', () => {
  assert.deepEqual(methodProblems(CALLS, rustSources()), []);
});

test('calls.json: each function uses exactly the methods listed for it, where listed', () => {
  assert.deepEqual(useProblems(CALLS, rustSources()), []);
});

test('calls.json: every ARN placeholder is one the test fills', () => {
  for (const [key, arn] of Object.entries(CALLS.arns)) {
    for (const [, k] of arn.matchAll(/\$\{([^}]+)\}/g)) {
      assert.ok(k in PSEUDO || k.startsWith('WSAUTH_') || k in INDEX_CONSTS ||
        ['ApiId', 'Stage', 'ConnectionId', 'LogGroup', 'LogStream'].includes(k), `${key}: \${${k}}`);
    }
  }
  assert.deepEqual(sorted(Object.values(INDEX_CONSTS)), ['bySession', 'byUser']);
});

// The guards can fail: each mutation of the table or of the code is caught, naming it.
const withCalls = (change) => {
  const c = structuredClone(CALLS);
  change(c);
  return c;
};
const caught = (problems, ...needles) => {
  assert.ok(problems.length > 0, 'the mutation went unnoticed');
  for (const n of needles) assert.ok(problems.some((p) => p.includes(n)), `no problem names ${n}:\n${problems.join('\n')}`);
};

test('guard mutation: a use removed from calls.json is caught', () => {
  const c = withCalls((x) => {
    x.functions.routes.uses = x.functions.routes.uses.filter((u) => u.method !== 'SessionStore::extend');
  });
  caught(useProblems(c, rustSources()), 'routes uses SessionStore::extend at routes/src/builtin/refresh.rs handle');
});

test('guard mutation: a use listed where the code has none is caught', () => {
  const c = withCalls((x) => {
    x.functions.connect.uses.push({ method: 'SessionStore::revoke', at: 'connect/src/lib.rs ConnectHandler::disconnect' });
  });
  caught(useProblems(c, rustSources()), 'SessionStore::revoke at connect/src/lib.rs disconnect');
});

test('guard mutation: a new call in a function\'s code, or a store under another name, is caught', () => {
  const file = 'routes/src/builtin/whoami.rs';
  const text = readText(file);
  assert.ok(text.includes('let b = ctx.binding;'));
  const called = rustSources({ [file]: text.replace('let b = ctx.binding;', 'let b = ctx.binding; let _ = ctx.services.store.get(ctx.connection_id).await;') });
  caught(useProblems(CALLS, called), 'routes uses SessionStore::get at routes/src/builtin/whoami.rs handle');
  const renamed = rustSources({ [file]: text.replace('let b = ctx.binding;', 'let sessions = &ctx.services.store; let b = ctx.binding;') });
  caught(useProblems(CALLS, renamed), 'a SessionStore named sessions');
});

test('guard mutation: a method\'s entries changed in calls.json are caught', () => {
  caught(methodProblems(withCalls((x) => { x.methods['SessionStore::page'] = []; }), rustSources()),
    'SessionStore::page: operations', 'SessionStore::page: actions');
  caught(methodProblems(withCalls((x) => { x.methods['SessionStore::bind'][0].action = 'dynamodb:UpdateItem'; }), rustSources()),
    'SessionStore::bind: actions');
  caught(methodProblems(withCalls((x) => { x.methods['SessionStore::user_bindings'][0].arn = 'sessions/bySession'; }), rustSources()),
    'SessionStore::user_bindings: indexes');
  caught(methodProblems(withCalls((x) => { x.methods['SessionStore::session_bindings'][0].arn = 'sessions'; }), rustSources()),
    'SessionStore::session_bindings: indexes');
  caught(methodProblems(withCalls((x) => { x.methods['SessionStore::authorize'].pop(); }), rustSources()),
    'SessionStore::authorize: tables');
  caught(methodProblems(withCalls((x) => { x.methods['Connections::delete'][0].arn = 'connection/POST'; }), rustSources()),
    'Connections::delete: @connections ARNs');
  caught(methodProblems(withCalls((x) => { delete x.methods['SessionStore::lookup']; }), rustSources()),
    'SessionStore::lookup (session/src/store.rs) is not in calls.json methods');
});

test('guard mutation: the store sending something else, or a new SDK call, is caught', () => {
  const file = 'session/src/dynamo/mod.rs';
  const text = readText(file);
  assert.ok(text.includes('.delete_item()'));
  const changed = rustSources({ [file]: text.replace('.delete_item()', '.update_item()') });
  caught(methodProblems(CALLS, changed), 'SessionStore::unbind: operations', 'SessionStore::unbind: actions');
  caught(sendProblems(CALLS, changed), 'session/src/dynamo/mod.rs unbind: update_item');
  assert.ok(text.includes('.index_name(index)'));
  const onTable = rustSources({ [file]: text.replace('.index_name(index)', '') });
  caught(methodProblems(CALLS, onTable), 'SessionStore::user_bindings: indexes', 'SessionStore::session_bindings: indexes');
  const extra = 'routes/src/services.rs';
  const added = rustSources({ [extra]: `${readText(extra)}\nasync fn sneak(client: &aws_sdk_dynamodb::Client) { let _ = client.get_item().send().await; }\n` });
  caught(sendProblems(CALLS, added), 'routes/src/services.rs sneak: get_item');
});
