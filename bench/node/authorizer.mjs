// The peer for the cold-start figure: a Node 20 `$connect` authorizer on aws-jwt-verify, with a
// minimal Lambda runtime loop (what the managed nodejs20.x runtime does around a handler).
// JWKS fetched at init (hydrate), like wsauth's authorizer.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { JwtVerifier } = require(process.env.AJV_MODULE);
const { SimpleJwksCache } = require(`${process.env.AJV_MODULE}/dist/cjs/jwk.js`);

class FetchFetcher {
  async fetch(uri) {
    const r = await fetch(uri);
    if (!r.ok) throw new Error(`JWKS ${r.status}`);
    return r.arrayBuffer();
  }
}

const api = `http://${process.env.AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime`;
const verifier = JwtVerifier.create(
  { issuer: process.env.WSAUTH_ISSUER, audience: process.env.WSAUTH_AUDIENCE, jwksUri: process.env.WSAUTH_JWKS_URL },
  { jwksCache: new SimpleJwksCache({ fetcher: new FetchFetcher() }) },
);
await verifier.hydrate();

function handler(event) {
  const token = event.queryStringParameters?.token;
  if (!token) throw new Error('Unauthorized');
  let payload;
  try { payload = verifier.verifySync(token); } catch { throw new Error('Unauthorized'); }
  return {
    principalId: payload.sub,
    policyDocument: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'execute-api:Invoke', Resource: event.methodArn }] },
    context: { userId: payload.sub, scopes: payload.scope ?? '', expiresAt: payload.exp, sessionId: payload.jti ?? '', issuer: payload.iss },
  };
}

for (;;) {
  const next = await fetch(`${api}/invocation/next`);
  const id = next.headers.get('lambda-runtime-aws-request-id');
  const event = await next.json();
  try {
    const out = handler(event);
    await fetch(`${api}/invocation/${id}/response`, { method: 'POST', body: JSON.stringify(out) });
  } catch (e) {
    await fetch(`${api}/invocation/${id}/error`, { method: 'POST', body: JSON.stringify({ errorMessage: e.message, errorType: 'Error' }) });
  }
}
