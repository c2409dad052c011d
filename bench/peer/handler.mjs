// Node 20 handlers for the peer (see serverless.yml): the usual way to do wsauth's job.
import { JwtVerifier } from 'aws-jwt-verify';
import { SimpleJwksCache } from 'aws-jwt-verify/jwk';
import { DynamoDBClient, GetItemCommand, PutItemCommand, DeleteItemCommand, QueryCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { ApiGatewayManagementApiClient, PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';

class FetchFetcher {
  async fetch(uri) {
    const r = await fetch(uri);
    if (!r.ok) throw new Error(`JWKS ${r.status}`);
    return r.arrayBuffer();
  }
}

const env = process.env;
const verifier = JwtVerifier.create(
  { issuer: env.PEER_ISSUER, audience: env.PEER_AUDIENCE, jwksUri: env.PEER_JWKS_URL },
  { jwksCache: new SimpleJwksCache({ fetcher: new FetchFetcher() }) },
);
const creds = { accessKeyId: 'local', secretAccessKey: 'local' };
const ddb = new DynamoDBClient({ endpoint: env.PEER_DDB, region: 'us-east-1', credentials: creds });
const mgmt = new ApiGatewayManagementApiClient({ endpoint: `http://127.0.0.1:${env.PEER_WS_PORT}`, region: 'us-east-1', credentials: creds });
const T = env.PEER_TABLE;

export async function authorizer(event) {
  const token = event.queryStringParameters?.token;
  let p;
  try { p = await verifier.verify(token); } catch { throw new Error('Unauthorized'); }
  return {
    principalId: p.sub,
    policyDocument: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'execute-api:Invoke', Resource: event.methodArn }] },
    context: { userId: p.sub, scopes: p.scope ?? '', expiresAt: p.exp },
  };
}

export async function connect(event) {
  const c = event.requestContext;
  if (c.eventType === 'CONNECT') {
    const a = c.authorizer ?? {};
    await ddb.send(new PutItemCommand({
      TableName: T,
      Item: { connectionId: { S: c.connectionId }, userId: { S: String(a.userId ?? a.principalId) },
        scopes: { S: String(a.scopes ?? '') }, expiresAt: { N: String(a.expiresAt ?? 0) }, connectedAt: { N: String(Date.now()) } },
      ConditionExpression: 'attribute_not_exists(connectionId)',
    }));
  } else {
    await ddb.send(new DeleteItemCommand({ TableName: T, Key: { connectionId: { S: c.connectionId } } }));
  }
  return { statusCode: 200 };
}

async function post(id, data) {
  try { await mgmt.send(new PostToConnectionCommand({ ConnectionId: id, Data: data })); return 1; } catch { return 0; }
}

export async function routes(event) {
  const c = event.requestContext;
  const got = await ddb.send(new GetItemCommand({ TableName: T, Key: { connectionId: { S: c.connectionId } }, ConsistentRead: true }));
  const b = got.Item;
  if (!b) return { statusCode: 200, body: JSON.stringify({ type: 'error', code: 'not_bound' }) };
  if (Number(b.expiresAt.N) <= Date.now() / 1000) return { statusCode: 200, body: JSON.stringify({ type: 'error', code: 'session_expired' }) };
  const scopes = b.scopes.S.split(' ');
  const msg = JSON.parse(event.body);
  if (c.routeKey === 'ping') return { statusCode: 200, body: JSON.stringify({ type: 'pong' }) };
  if (c.routeKey === 'sendToUser') {
    if (!scopes.includes('messages:send')) return { statusCode: 200, body: JSON.stringify({ type: 'error', code: 'forbidden' }) };
    const q = await ddb.send(new QueryCommand({ TableName: T, IndexName: 'byUser', KeyConditionExpression: 'userId = :u', ExpressionAttributeValues: { ':u': { S: msg.to } } }));
    const data = JSON.stringify({ type: 'message', from: b.userId.S, data: msg.data });
    const n = (await Promise.all((q.Items ?? []).map((i) => post(i.connectionId.S, data)))).reduce((x, y) => x + y, 0);
    return { statusCode: 200, body: JSON.stringify({ type: 'sent', to: msg.to, delivered: n }) };
  }
  if (c.routeKey === 'broadcast') {
    if (!scopes.includes('messages:broadcast')) return { statusCode: 200, body: JSON.stringify({ type: 'error', code: 'forbidden' }) };
    const data = JSON.stringify({ type: 'message', from: b.userId.S, data: msg.data });
    let n = 0;
    let start;
    do {
      const page = await ddb.send(new ScanCommand({ TableName: T, ExclusiveStartKey: start, Limit: 100 }));
      const ids = (page.Items ?? []).map((i) => i.connectionId.S).filter((id) => id !== c.connectionId);
      for (let i = 0; i < ids.length; i += 32) {
        n += (await Promise.all(ids.slice(i, i + 32).map((id) => post(id, data)))).reduce((x, y) => x + y, 0);
      }
      start = page.LastEvaluatedKey;
    } while (start);
    return { statusCode: 200, body: JSON.stringify({ type: 'sent', delivered: n }) };
  }
  return { statusCode: 200, body: JSON.stringify({ type: 'error', code: 'unknown_action' }) };
}
