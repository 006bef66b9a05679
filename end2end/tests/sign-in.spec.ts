import { expect, type Request } from '@playwright/test';
import {
  test,
  accounts,
  expectNoAxeViolations,
  isHydrated,
  openSignIn,
  signIn,
  waitForHydration,
} from './helpers';

test.describe('Signing in', () => {
  test('"Show password" exists only once the page has hydrated', async ({ page }) => {
    // Given the sign-in page
    await page.goto('/sign-in');
    await expect(page.getByRole('heading', { level: 1, name: 'Sign in' })).toBeVisible();
    const password = page.locator('input#password');
    await expect(password).toHaveAttribute('type', 'password');

    if (isHydrated()) {
      // When the browser bundle has hydrated the page, the toggle appears
      const show = page.getByRole('button', { name: 'Show password' });
      await expect(show).toBeVisible();
      await password.fill('secret-typed');

      // And choosing it reveals the password
      await show.click();
      await expect(password).toHaveAttribute('type', 'text');
      await expect(page.getByRole('button', { name: 'Hide password' })).toBeVisible();
      await expect(password).toHaveValue('secret-typed');

      // And choosing it again hides it
      await page.getByRole('button', { name: 'Hide password' }).click();
      await expect(password).toHaveAttribute('type', 'password');
      await expect(page.getByRole('button', { name: 'Show password' })).toBeVisible();
    } else {
      // Without JavaScript the toggle could not work, so it must not be offered at all
      await page.waitForLoadState('load');
      await expect(page.getByRole('button', { name: /Show password|Hide password/ })).toHaveCount(0);
      await expect(page.locator('.portal-show-password')).toHaveCount(0);
    }
    await expectNoAxeViolations(page);
  });

  test('a wrong password is refused without saying which part was wrong', async ({ page }) => {
    // Given the sign-in page
    await openSignIn(page);

    // When a patient enters a wrong password
    await page.getByLabel('Email address').fill(accounts.sarah);
    await page.getByLabel('Password', { exact: true }).fill('not-the-password');
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();

    // Then they are back on the sign-in page with an error summary
    await expect(page).toHaveURL(/\/sign-in$/);
    const summary = page.getByRole('alert');
    await expect(summary.getByRole('heading', { name: 'There is a problem' })).toBeVisible();
    await expect(summary).toContainText('Enter a correct email address and password');
    // And the page title says there is an error
    await expect(page).toHaveTitle(/^Error: /);
    // And what they typed as email is kept, but the password is not put back
    await expect(page.getByLabel('Email address')).toHaveValue(accounts.sarah);
    await expect(page.getByLabel('Password', { exact: true })).toHaveValue('');
    await waitForHydration(page);
    await expectNoAxeViolations(page);
  });

  test('sending an empty form asks for both fields', async ({ page }) => {
    // Given the sign-in page
    await openSignIn(page);
    const posts: Request[] = [];
    page.on('request', (r) => {
      if (r.method() === 'POST') posts.push(r);
    });

    // When the form is sent empty
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();

    // Then both fields are asked for, in the summary and by the fields
    const summary = page.getByRole('alert');
    await expect(summary.getByRole('heading', { name: 'There is a problem' })).toBeVisible();
    await expect(summary.getByRole('link', { name: 'Enter your email address' })).toBeVisible();
    await expect(summary.getByRole('link', { name: 'Enter your password' })).toBeVisible();
    await expect(page.locator('#email-error')).toContainText('Enter your email address');
    await expect(page.locator('#password-error')).toContainText('Enter your password');
    await expect(page).toHaveTitle(/^Error: /);
    await expect(page).toHaveURL(/\/sign-in$/);

    if (isHydrated()) {
      // And with JavaScript the check happened in the browser, with no round trip
      expect(posts.map((r) => r.url())).toEqual([]);
    } else {
      // And without JavaScript the server did the same check
      expect(posts.map((r) => new URL(r.url()).pathname)).toEqual(['/api/sign_in']);
    }
    await expectNoAxeViolations(page);
  });

  test('a signed-in person opening the start or sign-in page goes to their home', async ({ page }) => {
    // Given a signed-in patient
    await signIn(page, accounts.sarah);
    await expect(page).toHaveURL(/\/home$/);

    // When they open the start page
    await page.goto('/');
    // Then they are taken to their home
    await expect(page).toHaveURL(/\/home$/);
    await expect(page.getByRole('heading', { level: 1, name: 'Hello, Sarah' })).toBeVisible();

    // When they open the sign-in page
    await page.goto('/sign-in');
    // Then they are taken to their home
    await expect(page).toHaveURL(/\/home$/);
  });
});
