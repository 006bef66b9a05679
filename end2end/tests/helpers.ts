import { createHmac } from 'node:crypto';
import AxeBuilder from '@axe-core/playwright';
import { expect, test as base, type Locator, type Page } from '@playwright/test';

/**
 * Every spec uses this `test`: it fails any test in which the browser threw
 * (for example a hydration panic in the wasm bundle) or logged a panic or
 * hydration error, even if the page still looked right.
 */
export const test = base.extend<{ failOnBrowserErrors: void }>({
  failOnBrowserErrors: [
    async ({ page }, use) => {
      const errors: string[] = [];
      page.on('pageerror', (error) => errors.push(`uncaught: ${error.message}`));
      page.on('console', (message) => {
        if (message.type() === 'error' && /panicked|hydration|unreachable/i.test(message.text())) {
          errors.push(`console: ${message.text()}`);
        }
      });
      await use();
      expect(errors, 'the browser reported errors while running this test').toEqual([]);
    },
    { auto: true },
  ],
});

/** Every demo account (seeded by scripts/e2e-server) uses this password. */
export const DEMO_PASSWORD = 'demo-password-2026';

export const accounts = {
  sarah: 'sarah.jones@example.com', // patient, Riverside Surgery, NHS number 999 100 0003
  oliver: 'oliver.brown@example.com', // patient, Riverside Surgery, no NHS number
  amir: 'amir.hussain@example.com', // patient, Hillside Medical Centre
  priya: 'priya.shah@riverside.example.com', // receptionist, Riverside Surgery
  sam: 'sam.lee@hillside.example.com', // receptionist, Hillside Medical Centre
  admin: 'admin@portal.example.com', // system administrator
  tom: 'tom.okafor@riverside.example.com', // clinician, Riverside Surgery
  helen: 'helen.marsh@riverside.example.com', // practice manager, Riverside Surgery
} as const;

/**
 * The authenticator secret every demo member of staff has set up
 * (server/src/provisioning.rs DEMO_TOTP_SECRET; `portal seed-demo` prints it).
 */
export const DEMO_TOTP_SECRET = 'GPONLINESERVICESDEMOSTAFFSECRET2';

/** The demo staff, who sign in with DEMO_TOTP_SECRET's codes. */
const DEMO_STAFF: readonly string[] = [accounts.priya, accounts.sam, accounts.admin, accounts.tom, accounts.helen];

/** True in the `hydrated` project (JavaScript on, the wasm bundle hydrates the page). */
export function isHydrated(): boolean {
  return test.info().project.name === 'hydrated';
}

/**
 * In the hydrated project, wait until the browser bundle has been fetched and
 * the page has gone quiet, so clicks are not lost to a half-hydrated page.
 * Does nothing without JavaScript: there is nothing to wait for.
 */
export async function waitForHydration(page: Page): Promise<void> {
  if (!isHydrated()) return;
  await page.waitForLoadState('networkidle');
}

/**
 * The sign-in page has a precise hydration marker: the "Show password" button
 * exists only once the wasm bundle has hydrated the page.
 */
export async function waitForSignInPageReady(page: Page): Promise<void> {
  await expect(page.getByRole('heading', { level: 1, name: 'Sign in' })).toBeVisible();
  if (isHydrated()) {
    await expect(page.getByRole('button', { name: 'Show password' })).toBeVisible();
  }
}

/** Opens /sign-in and waits until it can be used (hydrated, in the hydrated project). */
export async function openSignIn(page: Page): Promise<void> {
  await page.goto('/sign-in');
  await waitForSignInPageReady(page);
}

export interface SignInOptions {
  /** A member of staff's authenticator secret; demo staff have DEMO_TOTP_SECRET. */
  totpSecret?: string;
  /** False to stop at /mfa, for specs about that page. */
  giveSecondFactor?: boolean;
}

/**
 * Signs in through the real sign-in form and waits until the browser has left
 * /sign-in. It lands on the account's home page; a member of staff gives the
 * code from their authenticator app at /mfa on the way (demo staff, or
 * anyone whose `totpSecret` is given), or is left at /mfa/setup if they have
 * no app yet.
 */
export async function signIn(
  page: Page,
  email: string,
  password: string = DEMO_PASSWORD,
  options: SignInOptions = {},
): Promise<void> {
  await openSignIn(page);
  await page.getByLabel('Email address').fill(email);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await expect(page).not.toHaveURL(/\/sign-in(\?|$)/);
  await waitForHydration(page);
  const secret = options.totpSecret ?? (DEMO_STAFF.includes(email) ? DEMO_TOTP_SECRET : undefined);
  if (secret && options.giveSecondFactor !== false && new URL(page.url()).pathname === '/mfa') {
    await giveSecondFactor(page, email, secret);
  }
}

function base32Decode(text: string): Buffer {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const bytes: number[] = [];
  let value = 0;
  let bits = 0;
  for (const c of text.replace(/[\s=]/g, '').toUpperCase()) {
    const index = alphabet.indexOf(c);
    if (index < 0) throw new Error(`not base32: ${c}`);
    value = (value << 5) | index;
    bits += 5;
    if (bits >= 8) {
      bytes.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(bytes);
}

/** The 30-second time step an authenticator app is on now. */
export function currentStep(): number {
  return Math.floor(Date.now() / 30_000);
}

/** The code an authenticator app shows for a step (RFC 6238: HMAC-SHA-1, 6 digits). */
export function totpCode(secret: string, step: number): string {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = createHmac('sha1', base32Decode(secret)).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}

/** A six-digit code the server will not take now for this secret. */
export function wrongTotpCode(secret: string): string {
  const now = currentStep();
  const right = [now - 2, now - 1, now, now + 1, now + 2].map((step) => totpCode(secret, step));
  for (let n = 123_456; ; n++) {
    const candidate = String(n).padStart(6, '0');
    if (!right.includes(candidate)) return candidate;
  }
}

/** The last step whose code this worker gave for each person: a step works once. */
const lastStepGiven = new Map<string, number>();

/**
 * Clicks a form's submit button and waits for the page the server answers
 * with (with or without JavaScript, the forms here post and redirect).
 */
export async function submitAndWait(page: Page, button: Locator): Promise<void> {
  const navigated = page.waitForEvent('framenavigated', (frame) => frame === page.mainFrame());
  await button.click();
  await navigated;
  await page.waitForLoadState('load');
  await waitForHydration(page);
}

/**
 * At /mfa, enters the code the authenticator app would show. The server
 * takes the step before, the current step or the next, each once, and
 * earlier sign-ins (in another worker, too) may have used them: an "already
 * used" answer moves on a step, and when all are used this waits for the
 * next step (giving the test that much longer). The step before is used
 * only early in a step, so that it is still taken when the request arrives.
 */
export async function giveSecondFactor(page: Page, email: string, secret: string = DEMO_TOTP_SECRET): Promise<void> {
  for (let attempt = 0; attempt < 8; attempt++) {
    const now = currentStep();
    const earliest = Date.now() % 30_000 < 25_000 ? now - 1 : now;
    const step = Math.max(earliest, (lastStepGiven.get(email) ?? 0) + 1);
    if (step > now + 1) {
      const wait = (now + 1) * 30_000 - Date.now() + 250;
      test.info().setTimeout(test.info().timeout + wait);
      await page.waitForTimeout(wait);
      continue;
    }
    await page.getByLabel('Code from your authenticator app').fill(totpCode(secret, step));
    await submitAndWait(page, page.getByRole('button', { name: 'Continue', exact: true }));
    lastStepGiven.set(email, step);
    if (new URL(page.url()).pathname !== '/mfa') return;
    await expect(page.getByRole('alert')).toContainText('That code has already been used');
  }
  throw new Error(`could not give ${email}'s second factor`);
}

/** Signs out with the header's "Sign out" button. */
export async function signOut(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/signed-out$/);
}

const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'];

/**
 * Runs axe (WCAG 2.0/2.1 A and AA, plus 2.2 AA rules) on the page as it is now
 * and fails with a readable list of what it found.
 *
 * In the no-js project the page itself cannot run axe: with JavaScript off,
 * Chromium never fires timers, so axe.run never finishes. There the page's
 * current DOM (exactly what the no-JS visitor has) is copied into a scratch
 * page with JavaScript on, at the same address so the same stylesheets load,
 * with every script removed so nothing can hydrate or change it, and axe runs
 * on that copy.
 */
export async function expectNoAxeViolations(page: Page): Promise<void> {
  const results = isHydrated() ? await analyze(page) : await analyzeStaticCopy(page);
  const described = results.violations.map((v) => ({
    id: v.id,
    impact: v.impact,
    help: v.help,
    helpUrl: v.helpUrl,
    nodes: v.nodes.map((n) => ({ target: n.target.join(' '), html: n.html, summary: n.failureSummary })),
  }));
  expect(
    results.violations,
    `axe found accessibility violations on ${page.url()} [${test.info().project.name}]:\n${JSON.stringify(described, null, 2)}`,
  ).toEqual([]);
}

async function analyze(page: Page) {
  return new AxeBuilder({ page }).withTags(AXE_TAGS).analyze();
}

async function analyzeStaticCopy(page: Page) {
  const address = page.url().replace(/#.*$/, '');
  const origin = new URL(address).origin;
  const html = (await page.content())
    .replace(/<script\b[\s\S]*?<\/script>/gi, '')
    .replace(/<link\b[^>]*\brel="(?:modulepreload|preload)"[^>]*>/gi, '');
  const browser = page.context().browser();
  if (!browser) throw new Error('no browser to open a scratch page in');
  const scratch = await browser.newContext({
    javaScriptEnabled: true,
    bypassCSP: true,
    viewport: page.viewportSize(),
    locale: 'en-GB',
  });
  try {
    const copy = await scratch.newPage();
    await copy.route('**/*', async (route) => {
      const request = route.request();
      if (request.isNavigationRequest() && request.url() === address) {
        await route.fulfill({ status: 200, contentType: 'text/html; charset=utf-8', body: html });
      } else if (new URL(request.url()).origin !== origin || new URL(request.url()).pathname.startsWith('/pkg/')) {
        // The real page's CSP blocks other origins, and without JavaScript no bundle runs.
        await route.abort();
      } else {
        await route.continue();
      }
    });
    await copy.goto(address, { waitUntil: 'load' });
    return await analyze(copy);
  } finally {
    await scratch.close();
  }
}

/**
 * A form page is ready to use: its heading is shown and, in the hydrated
 * project, the page has hydrated. Pages with a password field have a precise
 * marker for that: the "Show password" button (`toggle`) exists only once
 * the wasm bundle has hydrated the page.
 */
export async function waitForFormReady(page: Page, heading: string, toggle?: string): Promise<void> {
  await expect(page.getByRole('heading', { level: 1, name: heading })).toBeVisible();
  if (!isHydrated()) return;
  if (toggle) await expect(page.getByRole('button', { name: toggle })).toBeVisible();
  await waitForHydration(page);
}

/**
 * Expects the NHS.UK error summary with exactly these errors, in this
 * order (field id -> message): each message is a link to its field and is
 * repeated beside that field, and the page title starts "Error: ".
 */
export async function expectErrorSummary(page: Page, errors: Record<string, string>): Promise<void> {
  const summary = page.getByRole('alert');
  await expect(summary.getByRole('heading', { name: 'There is a problem' })).toBeVisible();
  const links = summary.getByRole('link');
  await expect(links).toHaveText(Object.values(errors));
  for (const [field, message] of Object.entries(errors)) {
    const link = summary.getByRole('link', { name: message, exact: true });
    await expect(link).toHaveAttribute('href', `#${field}`);
    // The link leads to a field that is there, with the same message beside it.
    await expect(page.locator(`input#${field}`)).toBeVisible();
    await expect(page.locator(`#${field}-error`)).toHaveText(`Error: ${message}`);
  }
  await expect(page).toHaveTitle(/^Error: /);
}

/**
 * Records the paths of the POST requests the page makes from now on, to
 * tell a check made in the browser (no request) from one made by the server.
 */
export function recordPosts(page: Page): string[] {
  const posts: string[] = [];
  page.on('request', (request) => {
    if (request.method() === 'POST') posts.push(new URL(request.url()).pathname);
  });
  return posts;
}

/** A patient in the demo data (server/src/provisioning.rs `seed_demo`). */
export interface DemoPatient {
  givenName: string;
  familyName: string;
  /** Day, month and year as a person types them into the date boxes. */
  dateOfBirth: { day: string; month: string; year: string };
  /** Ten digits, or null for a patient who has no NHS number. */
  nhsNumber: string | null;
}

/**
 * The demo patients exactly as `seed_demo` lists them: the order matters,
 * because NHS numbers are handed out in this order to those that have one.
 */
const SEEDED_PATIENTS: [string, string, string, boolean][] = [
  ['Sarah', 'Jones', '1984-03-27', true],
  ['Oliver', 'Brown', '2001-11-02', false],
  ['Margaret', 'Taylor', '1941-06-15', true],
  ['James', 'Wilson', '1967-09-30', true],
  ['Amelia', 'Davies', '2019-01-12', true],
  ['Mohammed', 'Ali', '1990-05-05', true],
  ['Grace', 'Evans', '1975-12-24', false],
  ['Harry', 'Thomas', '1958-02-08', true],
  ['Isla', 'Roberts', '2008-07-19', true],
  ['George', 'Johnson', '1949-04-01', true],
  ['Chloe', 'Walker', '1996-10-10', true],
  ['Noah', 'Wright', '2012-03-03', true],
  ['Amir', 'Hussain', '1979-08-21', true],
  ['Emily', 'Green', '1988-01-30', true],
  ['Jack', 'Hall', '1963-05-17', false],
  ['Sophie', 'Clarke', '2003-09-09', true],
  ['William', 'Lewis', '1952-11-11', true],
  ['Ava', 'Young', '2016-06-06', true],
  ['Thomas', 'King', '1970-02-14', true],
  ['Lily', 'Scott', '1999-12-01', true],
  ['Daniel', 'Baker', '1985-07-07', true],
  ['Ella', 'Adams', '1938-03-18', false],
  ['Samuel', 'Mitchell', '1993-04-22', true],
  ['Freya', 'Turner', '2010-08-30', true],
];

/** True if ten digits make a valid NHS number (modulus 11, as domain/src/nhs_number.rs). */
export function isValidNhsNumber(digits: string): boolean {
  if (!/^\d{10}$/.test(digits)) return false;
  const sum = [...digits.slice(0, 9)].reduce((total, d, i) => total + Number(d) * (10 - i), 0);
  const check = 11 - (sum % 11);
  if (check === 10) return false;
  return (check === 11 ? 0 : check) === Number(digits[9]);
}

/**
 * The demo NHS numbers in the order they are handed out, as
 * `demo_nhs_numbers()` makes them: stem "999" + (100000 + n * 37), then the
 * first digit that makes a valid number; a stem with no valid digit is
 * skipped.
 */
function* demoNhsNumbers(): Generator<string> {
  for (let n = 0; ; n++) {
    const stem = `999${String(100_000 + n * 37).padStart(6, '0')}`;
    for (let d = 0; d < 10; d++) {
      if (isValidNhsNumber(`${stem}${d}`)) {
        yield `${stem}${d}`;
        break;
      }
    }
  }
}

/** A demo patient by name, with the NHS number the seed gave them. */
export function demoPatient(givenName: string, familyName: string): DemoPatient {
  const numbers = demoNhsNumbers();
  for (const [given, family, dob, hasNhs] of SEEDED_PATIENTS) {
    const nhsNumber = hasNhs ? (numbers.next().value as string) : null;
    if (given === givenName && family === familyName) {
      // Typed the way people do: 15 6 1941.
      const [year, month, day] = dob.split('-').map((part) => String(Number(part)));
      return { givenName, familyName, dateOfBirth: { day, month, year }, nhsNumber };
    }
  }
  throw new Error(`no demo patient called ${givenName} ${familyName}`);
}

/** An NHS number as the NHS shows it: 999 100 0003. */
export function formatNhsNumber(digits: string): string {
  return `${digits.slice(0, 3)} ${digits.slice(3, 6)} ${digits.slice(6)}`;
}

/** A date's day, month and year in UK time, as the date inputs take them. */
export function ukDateParts(date: Date): { day: string; month: string; year: string } {
  const parts = new Intl.DateTimeFormat('en-GB', {
    timeZone: 'Europe/London',
    day: 'numeric',
    month: 'numeric',
    year: 'numeric',
  }).formatToParts(date);
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? '';
  return { day: get('day'), month: get('month'), year: get('year') };
}
