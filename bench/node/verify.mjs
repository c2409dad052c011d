// The peer: aws-jwt-verify (npm), `verifySync` with the JWKS cached, on the very same tokens
// and keys as wsauth. One JSON line per algorithm, like wsauth-bench.
// Usage: node verify.mjs DIR SECONDS   (AJV_MODULE: path of the aws-jwt-verify package)
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { JwtVerifier } = require(process.env.AJV_MODULE);
const [dir, secondsArg] = process.argv.slice(2);
const seconds = Number(secondsArg);
const meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8'));
const jwks = JSON.parse(readFileSync(join(dir, 'jwks.json'), 'utf8'));

for (const alg of ['RS256', 'ES256', 'EdDSA']) {
  const tokens = JSON.parse(readFileSync(join(dir, `tokens-${alg}.json`), 'utf8'));
  const verifier = JwtVerifier.create({
    issuer: meta.issuer,
    audience: meta.audience,
    jwksUri: 'https://issuer.bench.test/.well-known/jwks.json',
  });
  verifier.cacheJwks(jwks);
  for (const t of tokens.slice(0, 1000)) verifier.verifySync(t); // warm-up
  const budget = seconds * 1000;
  const start = performance.now();
  let n = 0;
  outer: for (;;) {
    for (const t of tokens) {
      verifier.verifySync(t);
      n += 1;
      if (n % 256 === 0 && performance.now() - start >= budget) break outer;
    }
  }
  const elapsed = (performance.now() - start) / 1000;
  console.log(JSON.stringify({ bench: 'verify', contender: 'aws-jwt-verify', alg, per_second: n / elapsed, calls: n }));
}
