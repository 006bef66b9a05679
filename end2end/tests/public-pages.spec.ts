import { expect } from '@playwright/test';
import { test, expectNoAxeViolations, waitForHydration, waitForSignInPageReady } from './helpers';

// Pages anyone can open without signing in.

test.describe('Public pages', () => {
  test('the start page explains the service and leads to sign in', async ({ page }) => {
    // Given someone who is not signed in
    // When they open the start page
    await page.goto('/');
    await waitForHydration(page);

    // Then they see what the service is for, under the generic service name
    await expect(page.getByRole('heading', { level: 1, name: 'Use your GP practice online' })).toBeVisible();
    await expect(page.getByRole('banner')).toContainText('GP online services');
    await expect(page.getByRole('button', { name: 'Sign out' })).toHaveCount(0);
    await expectNoAxeViolations(page);

    // When they choose "Sign in"
    await page.getByRole('main').getByRole('link', { name: 'Sign in' }).click();

    // Then they reach the sign-in page
    await expect(page).toHaveURL(/\/sign-in$/);
    await waitForSignInPageReady(page);
  });

  test('the accessibility statement is linked from the footer', async ({ page }) => {
    // Given someone on the start page
    await page.goto('/');
    await waitForHydration(page);

    // When they follow the footer link
    await page.getByRole('contentinfo').getByRole('link', { name: 'Accessibility statement' }).click();

    // Then they see the statement
    await expect(page).toHaveURL(/\/accessibility$/);
    await expect(page.getByRole('heading', { level: 1, name: 'Accessibility statement' })).toBeVisible();
    await expect(page).toHaveTitle(/^Accessibility statement/);
    await expectNoAxeViolations(page);
  });

  test('the cookies page lists the one cookie the service sets', async ({ page }) => {
    // Given someone on the start page
    await page.goto('/');
    await waitForHydration(page);

    // When they follow the footer link
    await page.getByRole('contentinfo').getByRole('link', { name: 'Cookies' }).click();

    // Then they see the cookies page and its table
    await expect(page).toHaveURL(/\/cookies$/);
    await expect(page.getByRole('heading', { level: 1, name: 'Cookies' })).toBeVisible();
    await expect(page.getByRole('table')).toContainText('portal_session');
    await expectNoAxeViolations(page);
  });

  test('an unknown address gives a 404 "Page not found" page', async ({ page }) => {
    // Given someone who mistypes an address
    // When they open it
    const response = await page.goto('/no-such-page');

    // Then the server answers 404 with a helpful page
    expect(response?.status()).toBe(404);
    await waitForHydration(page);
    await expect(page.getByRole('heading', { level: 1, name: 'Page not found' })).toBeVisible();
    await expect(page.getByRole('main').getByRole('link', { name: 'Go to the start page' })).toBeVisible();
    await expectNoAxeViolations(page);
  });

  test('opening a signed-in page without signing in leads to sign in', async ({ page }) => {
    // Given someone who is not signed in
    // When they open /home directly
    await page.goto('/home');

    // Then they are sent to the sign-in page
    await expect(page).toHaveURL(/\/sign-in$/);
    await waitForSignInPageReady(page);
    await expectNoAxeViolations(page);
  });

  test('the signed-out page explains an inactivity sign-out', async ({ page }) => {
    // Given someone whose session ended through inactivity
    // When they land on the signed-out page with that reason
    await page.goto('/signed-out?reason=inactive');
    await waitForHydration(page);

    // Then it tells them why they were signed out
    await expect(page.getByRole('heading', { level: 1, name: 'You have been signed out' })).toBeVisible();
    await expect(page.getByRole('main')).toContainText(
      'we signed you out because you had not done anything for 15 minutes',
    );
    await expect(page.getByRole('main').getByRole('link', { name: 'Sign in again' })).toHaveAttribute('href', '/sign-in');
    await expectNoAxeViolations(page);
  });
});
