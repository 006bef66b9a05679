import AxeBuilder from '@axe-core/playwright';
import { expect, test as base, type Page } from '@playwright/test';

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
} as const;

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

/**
 * Signs in through the real sign-in form and waits until the browser has left
 * /sign-in (it lands on the account's home page).
 */
export async function signIn(page: Page, email: string, password: string = DEMO_PASSWORD): Promise<void> {
  await openSignIn(page);
  await page.getByLabel('Email address').fill(email);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await expect(page).not.toHaveURL(/\/sign-in(\?|$)/);
  await waitForHydration(page);
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
