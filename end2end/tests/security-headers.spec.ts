import { expect } from '@playwright/test';
import { test, accounts, expectNoAxeViolations, isHydrated, signIn, waitForHydration } from './helpers';

test.describe('Security headers', () => {
  test('a signed-in page may not be stored by the browser or a proxy', async ({ page }) => {
    // Given a signed-in patient
    await signIn(page, accounts.sarah);

    // When her home page is loaded
    const response = await page.goto('/home');

    // Then the response forbids storing it
    expect(response, 'navigation to /home gave no response').not.toBeNull();
    expect(response!.status()).toBe(200);
    expect(response!.url()).toMatch(/\/home$/);
    expect(response!.headers()['cache-control']).toBe('no-store');
    await waitForHydration(page);
    await expect(page.getByRole('heading', { level: 1, name: 'Hello, Sarah' })).toBeVisible();
    await expectNoAxeViolations(page);
  });

  test('pages carry a nonce-based Content Security Policy', async ({ page }) => {
    // Given someone opening the sign-in page
    const response = await page.goto('/sign-in');
    expect(response).not.toBeNull();

    // Then the policy allows scripts only from this origin or with this response's nonce
    const csp = response!.headers()['content-security-policy'] ?? '';
    expect(csp).toContain("script-src 'self' 'nonce-");
    const nonce = /'nonce-([^']+)'/.exec(csp)?.[1];
    expect(nonce, `no nonce in CSP: ${csp}`).toBeTruthy();

    // And the hydration script in the page carries that same nonce
    const html = await response!.text();
    expect(html).toContain(`nonce="${nonce}"`);

    // And the nonce is fresh for every response
    const again = await page.request.get('/sign-in');
    const secondCsp = again.headers()['content-security-policy'] ?? '';
    const secondNonce = /'nonce-([^']+)'/.exec(secondCsp)?.[1];
    expect(secondNonce).toBeTruthy();
    expect(secondNonce).not.toBe(nonce);
  });

  test('the policy blocks nothing the pages need (no CSP violations in the console)', async ({ page }) => {
    test.skip(!isHydrated(), 'console CSP checks are made with JavaScript on, where the hydration script must run');

    // Given a browser that records console errors about the Content Security Policy
    const violations: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error' && message.text().includes('Content Security Policy')) {
        violations.push(`${page.url()}: ${message.text()}`);
      }
    });
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(`${page.url()}: ${error.message}`));

    // When a patient goes through the start page, signs in and opens her pages
    await page.goto('/');
    await waitForHydration(page);
    await signIn(page, accounts.sarah);
    await expect(page.getByRole('heading', { level: 1, name: 'Hello, Sarah' })).toBeVisible();
    await page.goto('/access-log');
    await waitForHydration(page);
    await expect(page.getByRole('heading', { level: 1, name: 'Who has accessed your record' })).toBeVisible();

    // Then the hydration script ran (signIn waited for the "Show password" button,
    // which only a hydrated page has) and the browser reported no violations
    expect(violations, `CSP violations reported:\n${violations.join('\n')}`).toEqual([]);
    expect(pageErrors, `uncaught page errors:\n${pageErrors.join('\n')}`).toEqual([]);
  });
});
