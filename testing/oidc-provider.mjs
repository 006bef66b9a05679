#!/usr/bin/env node
// A local OpenID Connect provider shaped like NHS login, for the tests. It
// is the real `oidc-provider` package (panva) with NHS login's settings: one
// client that authenticates with private_key_jwt (RS512, keys fetched from
// its jwks_uri), RS512 ID tokens, plain JSON userinfo, the `vtr` request
// parameter and the `vot` / `identity_proofing_level` / `vtm` claims.
//
//   node testing/oidc-provider.mjs --port <P> --client-id <ID> \
//     --redirect-uri <URI> --jwks-uri <URL> [--users <file>] \
//     [--post-logout-redirect-uri <URI>]
//
// Listens on 127.0.0.1:<P>; the issuer is http://127.0.0.1:<P>. Prints one
// line, "oidc-provider ready on http://127.0.0.1:<P>", to stdout once it
// accepts connections; everything else goes to stderr. See
// README-oidc.md beside this file for the users and behaviours.

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

// oidc-provider prints its notices with console.info, which is stdout; the
// tests read stdout for the ready line only, so every log goes to stderr.
console.log = console.error;
console.info = console.error;
console.debug = console.error;

const { default: Provider, errors, interactionPolicy } = await import('oidc-provider');

const HERE = path.dirname(fileURLToPath(import.meta.url));

// ---------------------------------------------------------------- arguments

const USAGE = 'usage: node testing/oidc-provider.mjs --port <P> --client-id <ID> --redirect-uri <URI> '
  + '--jwks-uri <URL> [--users <file>] [--post-logout-redirect-uri <URI>]';

function fail(message) {
  process.stderr.write(`oidc-provider: ${message}\n${USAGE}\n`);
  process.exit(2);
}

let args;
try {
  ({ values: args } = parseArgs({
    options: {
      port: { type: 'string' },
      'client-id': { type: 'string' },
      'redirect-uri': { type: 'string', multiple: true },
      'jwks-uri': { type: 'string' },
      users: { type: 'string' },
      'post-logout-redirect-uri': { type: 'string', multiple: true },
    },
    strict: true,
    allowPositionals: false,
  }));
} catch (err) {
  fail(err.message);
}

for (const required of ['port', 'client-id', 'redirect-uri', 'jwks-uri']) {
  if (args[required] === undefined) fail(`--${required} is required`);
}
const PORT = Number(args.port);
if (!Number.isInteger(PORT) || PORT < 1 || PORT > 65535) fail(`--port must be a port number, not ${args.port}`);
const CLIENT_ID = args['client-id'];
const REDIRECT_URIS = args['redirect-uri'];
const JWKS_URI = args['jwks-uri'];
const POST_LOGOUT_REDIRECT_URIS = args['post-logout-redirect-uri'] ?? [];
const USERS_FILE = path.resolve(args.users ?? path.join(HERE, 'oidc-users.json'));
for (const uri of [...REDIRECT_URIS, JWKS_URI, ...POST_LOGOUT_REDIRECT_URIS]) {
  if (!URL.canParse(uri)) fail(`not a URL: ${uri}`);
}

const ISSUER = `http://127.0.0.1:${PORT}`;
const TRUSTMARK = `${ISSUER}/trustmark`;

function log(...parts) {
  process.stderr.write(`oidc-provider: ${parts.join(' ')}\n`);
}

// -------------------------------------------------------------------- users

const LEVELS = { P0: 0, P5: 5, P9: 9 };
const BEHAVIOURS = new Set(['wrong-nonce', 'other-key', 'unknown-kid', 'expired', 'wrong-audience']);

function loadUsers(file) {
  let list;
  try {
    list = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    fail(`cannot read the users file ${file}: ${err.message}`);
  }
  if (!Array.isArray(list)) fail(`${file} must hold a JSON array of users`);
  const bySub = new Map();
  const byEmail = new Map();
  for (const [i, user] of list.entries()) {
    const where = `${file}: user ${i + 1}`;
    for (const field of ['email', 'password', 'sub', 'level']) {
      if (typeof user[field] !== 'string' || user[field] === '') fail(`${where} needs "${field}"`);
    }
    if (!(user.level in LEVELS)) fail(`${where}: level must be P0, P5 or P9`);
    if (user.behaviour !== undefined && !BEHAVIOURS.has(user.behaviour)) {
      fail(`${where}: behaviour must be one of ${[...BEHAVIOURS].join(', ')}`);
    }
    const email = user.email.toLowerCase();
    if (byEmail.has(email)) fail(`${where}: email ${user.email} appears twice`);
    if (bySub.has(user.sub)) fail(`${where}: sub ${user.sub} appears twice`);
    const copy = { ...user };
    byEmail.set(email, copy);
    bySub.set(user.sub, copy);
  }
  return { bySub, byEmail };
}

const USERS = loadUsers(USERS_FILE);

// ---------------------------------------------------------- vectors of trust

const VECTOR = /^(P0|P5|P9)\.(Cp\.Cd|Cp\.Ck|Cm)$/;
const DEFAULT_VTR = ['P9.Cp.Cd', 'P9.Cp.Ck', 'P9.Cm'];

const levelOf = (vector) => vector.split('.')[0];

/** The vectors asked for, the default when absent, or null when malformed. */
function parseVtr(value) {
  if (value === undefined || value === null) return DEFAULT_VTR;
  let parsed;
  try {
    parsed = JSON.parse(value);
  } catch {
    return null;
  }
  if (!Array.isArray(parsed) || parsed.length === 0) return null;
  if (!parsed.every((v) => typeof v === 'string' && VECTOR.test(v))) return null;
  return parsed;
}

/**
 * The vector to answer with: among those asked for at or below the user's
 * level, those at the highest such level, and of those the first in the
 * order asked. Null when every vector asked for is above the user's level.
 */
function chooseVot(vtr, level) {
  const have = LEVELS[level];
  let best = null;
  for (const vector of vtr) {
    const at = LEVELS[levelOf(vector)];
    if (at <= have && (best === null || at > LEVELS[levelOf(best)])) best = vector;
  }
  return best;
}

// --------------------------------------------------------------------- keys

function newRsaKey() {
  return crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
}

const signingKey = newRsaKey();
const signingPrivateJwk = signingKey.export({ format: 'jwk' });
// The RFC 7638 thumbprint as the kid.
const KID = crypto.createHash('sha256')
  .update(JSON.stringify({ e: signingPrivateJwk.e, kty: 'RSA', n: signingPrivateJwk.n }))
  .digest('base64url');
// For the tampering users: a key the client does not know.
const otherKey = newRsaKey();

const b64u = (data) => Buffer.from(data).toString('base64url');

function signJws(header, payload, key) {
  const input = `${b64u(JSON.stringify(header))}.${b64u(JSON.stringify(payload))}`;
  return `${input}.${b64u(crypto.sign('sha512', Buffer.from(input), key))}`;
}

function decodeJws(jws) {
  const [h, p] = jws.split('.');
  return {
    header: JSON.parse(Buffer.from(h, 'base64url').toString('utf8')),
    payload: JSON.parse(Buffer.from(p, 'base64url').toString('utf8')),
  };
}

/** The ID token a misbehaving user gets instead of the real one. */
function tamperIdToken(idToken) {
  let decoded;
  try {
    decoded = decodeJws(idToken);
  } catch {
    return idToken;
  }
  const { header, payload } = decoded;
  const behaviour = USERS.bySub.get(payload.sub)?.behaviour;
  if (!behaviour) return idToken;
  const now = Math.floor(Date.now() / 1000);
  let out;
  switch (behaviour) {
    case 'wrong-nonce':
      out = signJws(header, { ...payload, nonce: b64u(crypto.randomBytes(16)) }, signingKey);
      break;
    case 'other-key':
      out = signJws(header, payload, otherKey);
      break;
    case 'unknown-kid':
      out = signJws({ ...header, kid: 'unknown-kid-1' }, payload, otherKey);
      break;
    case 'expired':
      out = signJws(header, { ...payload, iat: now - 1200, exp: now - 600 }, signingKey);
      break;
    case 'wrong-audience':
      out = signJws(header, { ...payload, aud: 'someone-else' }, signingKey);
      break;
    default:
      return idToken;
  }
  log(`tampered the ID token for ${payload.sub} (${behaviour})`);
  return out;
}

// ----------------------------------------------------------------- accounts

function claimsFor(user, vot) {
  const level = levelOf(vot);
  return {
    sub: user.sub,
    vot,
    identity_proofing_level: level,
    vtm: TRUSTMARK,
    // Nobody answered at P0 has a verified NHS number.
    ...(user.nhs_number && level !== 'P0' ? { nhs_number: user.nhs_number } : {}),
    ...(user.birthdate ? { birthdate: user.birthdate } : {}),
    ...(user.given_name ? { given_name: user.given_name } : {}),
    ...(user.family_name ? { family_name: user.family_name } : {}),
    email: user.email,
    email_verified: true,
    ...(user.phone_number ? { phone_number: user.phone_number, phone_number_verified: true } : {}),
  };
}

// findAccount is called with the authorization code at the token endpoint
// (its acr holds the vot chosen at sign-in) and with the access token at
// userinfo (extraTokenClaims copied the vot into it).
async function findAccount(ctx, sub, token) {
  const user = USERS.bySub.get(sub);
  if (!user) return undefined;
  return {
    accountId: sub,
    async claims() {
      const vot = token?.acr ?? token?.extra?.vot ?? ctx?.oidc?.session?.acr
        ?? chooseVot(['P0.Cp.Cd', 'P5.Cp.Cd', 'P9.Cp.Cd'], user.level);
      return claimsFor(user, vot);
    },
  };
}

async function extraTokenClaims(ctx, token) {
  const acr = ctx?.oidc?.entities?.AuthorizationCode?.acr;
  if (token.kind === 'AccessToken' && acr) return { vot: acr };
  return undefined;
}

// The client is first party: its grant is made (or widened) here to cover
// whatever it asks for, so there is never a consent page.
async function loadExistingGrant(ctx) {
  const { oidc } = ctx;
  const accountId = oidc.session.accountId;
  const grantId = oidc.result?.consent?.grantId || oidc.session.grantIdFor(oidc.client.clientId);
  let grant = grantId ? await oidc.provider.Grant.find(grantId) : undefined;
  if (!grant || grant.accountId !== accountId || grant.clientId !== oidc.client.clientId) {
    grant = new oidc.provider.Grant({ clientId: oidc.client.clientId, accountId });
  }
  grant.addOIDCScope([...oidc.requestParamOIDCScopes].join(' '));
  const claims = oidc.requestParamClaims ? [...oidc.requestParamClaims] : [];
  if (claims.length) grant.addOIDCClaims(claims);
  await grant.save();
  return grant;
}

// ------------------------------------------------------------------ policy

const { Check } = interactionPolicy;
const policy = interactionPolicy.base();
// A provider session made for other vectors (another vtr, or before a step
// up) does not answer this request: ask again. The interaction page then
// finishes it at once, or offers the step up, without asking for a password.
policy.get('login').checks.add(new Check(
  'vtr_not_satisfied',
  'the vectors of trust asked for are not those of the current session',
  'login_required',
  (ctx) => {
    const { session, params } = ctx.oidc;
    if (!session.accountId) return Check.NO_NEED_TO_PROMPT; // no_session asks already
    const user = USERS.bySub.get(session.accountId);
    const vtr = parseVtr(params.vtr) ?? DEFAULT_VTR;
    const vot = user ? chooseVot(vtr, user.level) : null;
    return vot !== null && vot === session.acr ? Check.NO_NEED_TO_PROMPT : Check.REQUEST_PROMPT;
  },
));

// -------------------------------------------------------------------- pages

const escapeHtml = (s) => String(s).replace(/[&<>"']/g, (c) => ({
  '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;',
}[c]));

function page(title, body) {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
body{font-family:Arial,sans-serif;max-width:32em;margin:2em auto;padding:0 1em;color:#212b32}
label{display:block;font-weight:bold;margin-top:1em}
input{display:block;font-size:1em;padding:.4em;width:100%;box-sizing:border-box}
button{margin-top:1.5em;font-size:1em;padding:.5em 1em}
.error{color:#d5281b;font-weight:bold}
</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>
`;
}

const LOGIN_TITLE = 'Sign in to NHS login (test provider)';

function loginPage(uid, { email = '', error = false } = {}) {
  return page(LOGIN_TITLE, `<h1>${escapeHtml(LOGIN_TITLE)}</h1>
${error ? '<p class="error" role="alert">Email or password is wrong</p>\n' : ''}<form method="post" action="/interaction/${escapeHtml(uid)}/login">
<label for="email">Email address</label>
<input id="email" name="email" type="email" autocomplete="username" value="${escapeHtml(email)}">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password">
<button type="submit">Continue</button>
</form>`);
}

function stepUpPage(uid, user) {
  return page('Prove who you are', `<h1>Prove who you are</h1>
<p>The service you are signing in to needs you to prove who you are with photo ID.
Your identity check so far: ${escapeHtml(user.level)}.</p>
<form method="post" action="/interaction/${escapeHtml(uid)}/confirm-identity">
<button type="submit">Confirm my identity</button>
</form>
<form method="post" action="/interaction/${escapeHtml(uid)}/cancel">
<button type="submit">Cancel</button>
</form>`);
}

function messagePage(title, text) {
  return page(title, `<h1>${escapeHtml(title)}</h1>\n<p>${escapeHtml(text)}</p>`);
}

// ----------------------------------------------------------------- provider

const configuration = {
  clients: [{
    client_id: CLIENT_ID,
    client_name: 'GP patient portal (test)',
    token_endpoint_auth_method: 'private_key_jwt',
    token_endpoint_auth_signing_alg: 'RS512',
    id_token_signed_response_alg: 'RS512',
    // NHS login's ID tokens always say when the user signed in.
    require_auth_time: true,
    jwks_uri: JWKS_URI,
    redirect_uris: REDIRECT_URIS,
    post_logout_redirect_uris: POST_LOGOUT_REDIRECT_URIS,
    response_types: ['code'],
    grant_types: ['authorization_code'],
  }],
  clientDefaults: {
    id_token_signed_response_alg: 'RS512',
    token_endpoint_auth_method: 'private_key_jwt',
    response_types: ['code'],
    grant_types: ['authorization_code'],
  },
  clientAuthMethods: ['private_key_jwt'],
  enabledJWA: {
    clientAuthSigningAlgValues: ['RS512'],
    idTokenSigningAlgValues: ['RS512'],
  },
  jwks: { keys: [{ ...signingPrivateJwk, kid: KID, alg: 'RS512', use: 'sig' }] },
  responseTypes: ['code'],
  scopes: ['openid', 'profile', 'email', 'phone'],
  claims: {
    sid: null,
    auth_time: null,
    iss: null,
    // openid-scope claims go in the ID token as well as userinfo.
    openid: ['sub', 'vot', 'identity_proofing_level', 'vtm'],
    profile: ['nhs_number', 'birthdate', 'family_name', 'given_name'],
    email: ['email', 'email_verified'],
    phone: ['phone_number', 'phone_number_verified'],
  },
  // Profile claims only in userinfo (the ID token carries the openid ones).
  conformIdTokenClaims: true,
  extraParams: {
    vtr(ctx, value) {
      if (value !== undefined && parseVtr(value) === null) {
        throw new errors.InvalidRequest(
          'vtr must be a non-empty JSON array of vectors of trust such as ["P9.Cp.Cd","P9.Cp.Ck","P9.Cm"]',
        );
      }
    },
  },
  features: {
    devInteractions: { enabled: false },
    userinfo: { enabled: true },
    jwtUserinfo: { enabled: false },
    rpInitiatedLogout: {
      enabled: true,
      async logoutSource(ctx, form) {
        // Shown only if the automatic confirmation below did not happen.
        ctx.type = 'html';
        ctx.body = page('Sign out of NHS login (test provider)', `<h1>Sign out of NHS login (test provider)</h1>
${form}
<button type="submit" form="op.logoutForm" name="logout" value="yes">Yes, sign me out</button>
<button type="submit" form="op.logoutForm">No, stay signed in</button>`);
      },
      async postLogoutSuccessSource(ctx) {
        ctx.type = 'html';
        ctx.body = messagePage('Signed out', 'You have signed out of NHS login (test provider).');
      },
    },
    resourceIndicators: { enabled: false },
    pushedAuthorizationRequests: { enabled: false },
    dPoP: { enabled: false },
    claimsParameter: { enabled: false },
  },
  pkce: { required: () => false },
  cookies: {
    // Distinct names: cookies do not care about ports, and the portal runs
    // on the same host.
    names: {
      session: 'nhslogin_test_session',
      interaction: 'nhslogin_test_interaction',
      resume: 'nhslogin_test_interaction_resume',
    },
    keys: [crypto.randomBytes(32).toString('base64url')],
  },
  ttl: {
    AccessToken: 3600,
    AuthorizationCode: 60,
    IdToken: 3600,
    Interaction: 3600,
    Session: 8 * 3600,
    Grant: 8 * 3600,
  },
  interactions: {
    policy,
    url: (ctx, interaction) => `/interaction/${interaction.uid}`,
  },
  findAccount,
  loadExistingGrant,
  extraTokenClaims,
  // oidc-provider refuses to fetch from special-use (loopback, private)
  // addresses by default; the portal's jwks_uri is on loopback here.
  fetch(url, options) {
    delete options.dispatcher;
    return globalThis.fetch(url, options);
  },
  async renderError(ctx, out, error) {
    ctx.type = 'html';
    ctx.body = page('Something went wrong', `<h1>Something went wrong</h1>
<p class="error">${escapeHtml(out.error)}${out.error_description ? `: ${escapeHtml(out.error_description)}` : ''}</p>`);
    if (error && !(error instanceof errors.OIDCProviderError)) log('error page:', error.stack ?? error);
  },
};

const provider = new Provider(ISSUER, configuration);

function describeError(err) {
  return [err.error ?? err.name, err.error_description ?? err.message, err.error_detail, err.cause?.message]
    .filter(Boolean).join(' | ');
}
for (const event of [
  'authorization.error', 'grant.error', 'userinfo.error', 'end_session.error', 'discovery.error',
  'jwks.error', 'check_session.error', 'backchannel.error', 'revocation.error', 'introspection.error',
]) {
  provider.on(event, (ctx, err) => log(`${event}:`, describeError(err)));
}
provider.on('server_error', (ctx, err) => log('server_error:', err.stack ?? err));
provider.on('grant.success', (ctx) => log(`tokens issued to ${ctx.oidc.client?.clientId} for ${ctx.oidc.entities.AuthorizationCode?.accountId}`));
provider.on('interaction.started', (ctx, prompt) => log(`interaction ${prompt.name}: ${prompt.reasons.join(', ')}`));

// ------------------------------------------------------- interaction routes

const pendingStepUps = new Map(); // interaction uid -> sub waiting to step up

async function readForm(req, limit = 16 * 1024) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > limit) throw Object.assign(new Error('request body too large'), { status: 413 });
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function sameSecret(a, b) {
  const x = crypto.createHash('sha256').update(String(a)).digest();
  const y = crypto.createHash('sha256').update(String(b)).digest();
  return crypto.timingSafeEqual(x, y);
}

async function finish(ctx, result) {
  const url = await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: false });
  ctx.redirect(url);
  ctx.status = 303;
}

/**
 * Someone else signing in (after prompt=login) in a browser that has a
 * provider session for another user: end that session here. Otherwise
 * oidc-provider would answer with a self-submitting "sign out first" form,
 * which needs JavaScript or an extra click.
 */
async function forgetOtherUser(details, user) {
  const other = details.session;
  if (!other?.accountId || other.accountId === user.sub) return;
  const session = other.uid ? await provider.Session.findByUid(other.uid) : undefined;
  if (session) await session.destroy();
  delete details.session;
  await details.save(details.exp - Math.floor(Date.now() / 1000));
  log(`ended ${other.accountId}'s provider session: ${user.sub} is signing in`);
}

/** Signs the user in with the right vot, or offers the step up when needed. */
async function signIn(ctx, details, user) {
  const vtr = parseVtr(details.params.vtr) ?? DEFAULT_VTR;
  const vot = chooseVot(vtr, user.level);
  if (vot) {
    pendingStepUps.delete(details.uid);
    await forgetOtherUser(details, user);
    log(`${user.sub} signed in at ${vot}`);
    return finish(ctx, { login: { accountId: user.sub, acr: vot, remember: true } });
  }
  pendingStepUps.set(details.uid, user.sub);
  ctx.type = 'html';
  ctx.body = stepUpPage(details.uid, user);
  return undefined;
}

async function interactionRoutes(ctx, next) {
  if (ctx.path === '/trustmark' && (ctx.method === 'GET' || ctx.method === 'HEAD')) {
    ctx.body = { issuer: ISSUER, note: 'NHS login (test provider) trustmark', vectors: ['P0', 'P5', 'P9'] };
    return undefined;
  }
  const match = /^\/interaction\/([^/]+)(?:\/(login|confirm-identity|cancel))?$/.exec(ctx.path);
  if (!match) return next();
  const [, uidInPath, action] = match;
  const method = ctx.method;
  if (!((action === undefined && (method === 'GET' || method === 'HEAD')) || (action !== undefined && method === 'POST'))) {
    ctx.status = 405;
    ctx.type = 'html';
    ctx.body = messagePage('Method not allowed', 'This page does not accept that request.');
    return undefined;
  }
  ctx.set('Cache-Control', 'no-store');
  let details;
  try {
    details = await provider.interactionDetails(ctx.req, ctx.res);
  } catch (err) {
    log('interaction not found:', describeError(err));
    ctx.status = 400;
    ctx.type = 'html';
    ctx.body = messagePage('Sign-in expired', 'This sign-in has expired or was already used. Go back to the service and start again.');
    return undefined;
  }
  if (details.uid !== uidInPath) {
    ctx.status = 400;
    ctx.type = 'html';
    ctx.body = messagePage('Sign-in expired', 'This sign-in does not match this browser. Go back to the service and start again.');
    return undefined;
  }
  const { uid, prompt } = details;

  if (action === undefined) {
    if (prompt.name === 'consent') {
      // Not reached in practice (loadExistingGrant grants everything).
      const grant = new provider.Grant({ clientId: details.params.client_id, accountId: details.session.accountId });
      grant.addOIDCScope(String(details.params.scope ?? 'openid'));
      return finish(ctx, { consent: { grantId: await grant.save() } });
    }
    const knownUser = details.session?.accountId && USERS.bySub.get(details.session.accountId);
    if (knownUser && prompt.reasons.length > 0 && prompt.reasons.every((r) => r === 'vtr_not_satisfied')) {
      // Signed in already, but for other vectors of trust.
      return signIn(ctx, details, knownUser);
    }
    ctx.type = 'html';
    ctx.body = loginPage(uid, { email: details.params.login_hint ?? '' });
    return undefined;
  }

  let form;
  try {
    form = await readForm(ctx.req);
  } catch (err) {
    ctx.status = err.status ?? 400;
    ctx.type = 'html';
    ctx.body = messagePage('Bad request', err.message);
    return undefined;
  }

  if (action === 'login') {
    if (prompt.name !== 'login') {
      ctx.status = 400;
      ctx.type = 'html';
      ctx.body = messagePage('Bad request', 'This sign-in is not waiting for a password.');
      return undefined;
    }
    const email = (form.get('email') ?? '').trim();
    const password = form.get('password') ?? '';
    const user = USERS.byEmail.get(email.toLowerCase());
    if (!user || !sameSecret(password, user.password)) {
      log(`wrong email or password for ${JSON.stringify(email)}`);
      ctx.type = 'html';
      ctx.body = loginPage(uid, { email, error: true });
      return undefined;
    }
    return signIn(ctx, details, user);
  }

  if (action === 'confirm-identity') {
    const sub = pendingStepUps.get(uid);
    const user = sub && USERS.bySub.get(sub);
    if (!user) {
      ctx.status = 400;
      ctx.type = 'html';
      ctx.body = messagePage('Bad request', 'No identity check is waiting for this sign-in.');
      return undefined;
    }
    log(`${user.sub} proved who they are: ${user.level} -> P9`);
    user.level = 'P9';
    return signIn(ctx, details, user);
  }

  // cancel
  pendingStepUps.delete(uid);
  log('sign-in cancelled');
  return finish(ctx, { error: 'access_denied', error_description: 'The user cancelled the sign-in' });
}

provider.use(interactionRoutes);

// The ID token tampering for the misbehaving users, after the token endpoint.
provider.use(async (ctx, next) => {
  await next();
  if (ctx.method === 'POST' && ctx.path === '/token' && ctx.status === 200
      && ctx.body && typeof ctx.body === 'object' && typeof ctx.body.id_token === 'string') {
    const idToken = tamperIdToken(ctx.body.id_token);
    if (idToken !== ctx.body.id_token) ctx.body = { ...ctx.body, id_token: idToken };
  }
});

// RP-initiated logout without a confirmation page, as NHS login does it:
// once oidc-provider has checked the request (id_token_hint, registered
// post_logout_redirect_uri) and answered with its confirmation form, post
// that form to the provider ourselves, with the browser's cookies, and hand
// the browser the result (the redirect to post_logout_redirect_uri and the
// cleared session cookie). No JavaScript and no extra click needed.
function cookiePairs(header) {
  const jar = new Map();
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0) jar.set(part.slice(0, i).trim(), part.slice(i + 1).trim());
  }
  return jar;
}
provider.use(async (ctx, next) => {
  await next();
  if (ctx.method !== 'GET' || ctx.path !== '/session/end' || ctx.status !== 200 || typeof ctx.body !== 'string') return;
  const xsrf = /name="xsrf" value="([^"]+)"/.exec(ctx.body)?.[1];
  if (!xsrf) return;
  const jar = cookiePairs(ctx.get('cookie'));
  const justSet = ctx.response.get('set-cookie');
  for (const line of Array.isArray(justSet) ? justSet : [justSet].filter(Boolean)) {
    const [pair] = line.split(';');
    const i = pair.indexOf('=');
    const name = pair.slice(0, i).trim();
    const value = pair.slice(i + 1).trim();
    if (value === '' || /expires=Thu, 01 Jan 1970/i.test(line)) jar.delete(name); else jar.set(name, value);
  }
  let res;
  try {
    res = await fetch(`${ISSUER}${provider.pathFor('end_session_confirm')}`, {
      method: 'POST',
      redirect: 'manual',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; '),
      },
      body: new URLSearchParams({ xsrf, logout: 'yes' }).toString(),
    });
  } catch (err) {
    log('automatic sign-out failed:', err.message);
    return;
  }
  const location = res.headers.get('location');
  if (![302, 303].includes(res.status) || !location) {
    log(`automatic sign-out failed: HTTP ${res.status}`);
    return;
  }
  for (const line of res.headers.getSetCookie()) ctx.append('Set-Cookie', line);
  ctx.redirect(new URL(location, ISSUER).href);
  ctx.status = 303;
  log('signed out');
});

// Nothing else here: a plain 404 for unknown paths.
provider.use(async (ctx, next) => {
  await next();
  if (ctx.status === 404 && ctx.body == null && ctx.respond !== false && !ctx.headerSent) {
    ctx.type = 'html';
    ctx.body = messagePage('Page not found', 'There is no page at this address.');
    ctx.status = 404;
  }
});

// ------------------------------------------------------------------- server

const server = http.createServer(provider.callback());
server.on('error', (err) => {
  log('cannot listen:', err.message);
  process.exit(1);
});
server.listen(PORT, '127.0.0.1', () => {
  log(`issuer ${ISSUER}, client ${CLIENT_ID}, redirect ${REDIRECT_URIS.join(' ')}, jwks ${JWKS_URI}, `
    + `users ${USERS_FILE} (${USERS.bySub.size}), signing kid ${KID}`);
  process.stdout.write(`oidc-provider ready on ${ISSUER}\n`);
});

let stopping = false;
function stop(signal) {
  if (stopping) return;
  stopping = true;
  log(`${signal}: stopping`);
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
