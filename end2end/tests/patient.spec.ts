import { expect, type Locator, type Page } from '@playwright/test';
import { test, accounts, expectNoAxeViolations, signIn, signOut, waitForHydration } from './helpers';

/** The value cell of a summary-list row, found by its key. */
function summaryValue(page: Page, key: string): Locator {
  return page
    .locator('.nhsuk-summary-list__row')
    .filter({ has: page.getByRole('term').filter({ hasText: new RegExp(`^${key}$`) }) })
    .getByRole('definition');
}

test.describe('A patient', () => {
  test('signs in and sees their own details', async ({ page }) => {
    // Given Sarah, a patient at Riverside Surgery
    // When she signs in
    await signIn(page, accounts.sarah);

    // Then she lands on her home page, greeted by name
    await expect(page).toHaveURL(/\/home$/);
    await expect(page.getByRole('heading', { level: 1, name: 'Hello, Sarah' })).toBeVisible();

    // And the header shows her practice as the service name, her name and a way to sign out
    const header = page.getByRole('banner');
    await expect(header.locator('.nhsuk-header__service-name')).toHaveText('Riverside Surgery');
    const account = header.getByRole('navigation', { name: 'Account' });
    await expect(account).toContainText('Sarah Jones');
    await expect(account.getByRole('button', { name: 'Sign out' })).toBeVisible();

    // And her details are listed
    await expect(summaryValue(page, 'Name')).toHaveText('Sarah Jones');
    await expect(summaryValue(page, 'Date of birth')).toHaveText('27 March 1984');
    await expect(summaryValue(page, 'NHS number')).toHaveText('999 100 0003');
    await expect(summaryValue(page, 'GP practice')).toContainText('Riverside Surgery');
    await expectNoAxeViolations(page);
  });

  test('sees who has accessed their record', async ({ page }) => {
    // Given Sarah is signed in and has looked at her details
    await signIn(page, accounts.sarah);
    await expect(page.getByRole('heading', { level: 1, name: 'Hello, Sarah' })).toBeVisible();

    // When she follows the link on her home page
    await page.getByRole('main').getByRole('link', { name: 'See who has accessed your record' }).click();

    // Then she sees the access log, which includes her own viewing
    await expect(page).toHaveURL(/\/access-log$/);
    await waitForHydration(page);
    await expect(page.getByRole('heading', { level: 1, name: 'Who has accessed your record' })).toBeVisible();
    const table = page.getByRole('table');
    await expect(table.getByRole('columnheader')).toHaveText(['When', 'Who', 'What']);
    const ownView = table
      .getByRole('row')
      .filter({ hasText: 'Sarah Jones (Patient)' })
      .filter({ hasText: 'Viewed your personal details' });
    await expect(ownView.first()).toBeVisible();
    await expectNoAxeViolations(page);
  });

  test('without an NHS number is told their practice can still help', async ({ page }) => {
    // Given Oliver, a patient who has no NHS number yet
    // When he signs in
    await signIn(page, accounts.oliver);

    // Then his home page says the number is not yet assigned
    await expect(page.getByRole('heading', { level: 1, name: 'Hello, Oliver' })).toBeVisible();
    await expect(summaryValue(page, 'NHS number')).toHaveText('Not yet assigned. Your practice can still help you.');
    await expect(page.getByRole('banner').locator('.nhsuk-header__service-name')).toHaveText('Riverside Surgery');
    await expectNoAxeViolations(page);
  });

  test('signs out and cannot get back in without signing in again', async ({ page }) => {
    // Given Sarah is signed in
    await signIn(page, accounts.sarah);
    await expect(page.getByRole('heading', { level: 1, name: 'Hello, Sarah' })).toBeVisible();

    // When she chooses "Sign out" in the header
    await signOut(page);

    // Then she is told she has signed out, and the header no longer shows her account
    await expect(page.getByRole('heading', { level: 1, name: 'You have been signed out' })).toBeVisible();
    await expect(page.getByRole('main')).toContainText('You have signed out of GP online services.');
    await expect(page.getByRole('button', { name: 'Sign out' })).toHaveCount(0);
    await expect(page.getByRole('banner')).not.toContainText('Sarah Jones');
    await waitForHydration(page);
    await expectNoAxeViolations(page);

    // And opening her home page again asks her to sign in
    await page.goto('/home');
    await expect(page).toHaveURL(/\/sign-in$/);
  });

  test('is not allowed to use the staff pages', async ({ page }) => {
    // Given Sarah is signed in
    await signIn(page, accounts.sarah);

    // When she opens the staff page directly
    await page.goto('/staff');
    await waitForHydration(page);

    // Then she is told she may not see it
    await expect(page.getByRole('main').getByText('You do not have permission to see this').first()).toBeVisible();
    // And nothing from the staff page is shown to her
    await expect(page.getByRole('heading', { name: 'Find a patient' })).toHaveCount(0);
    await expect(page.getByLabel('NHS number')).toHaveCount(0);
    await expect(page.getByRole('button', { name: 'Find patient' })).toHaveCount(0);
    await expectNoAxeViolations(page);
  });
});
