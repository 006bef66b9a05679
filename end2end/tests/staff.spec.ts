import { expect, type Page } from '@playwright/test';
import { test, accounts, expectNoAxeViolations, signIn, signOut, waitForHydration } from './helpers';

const NOT_REGISTERED = 'No patient with that NHS number is registered at this practice';

async function findPatient(page: Page, nhsNumber: string): Promise<void> {
  await page.getByLabel('NHS number').fill(nhsNumber);
  await page.getByRole('button', { name: 'Find patient' }).click();
}

test.describe('Practice staff', () => {
  test('a receptionist lands on "Find a patient"', async ({ page }) => {
    // Given Priya, a receptionist at Riverside Surgery
    // When she signs in
    await signIn(page, accounts.priya);

    // Then she lands on the staff page with the search form
    await expect(page).toHaveURL(/\/staff$/);
    await expect(page.getByRole('heading', { level: 1, name: 'Find a patient' })).toBeVisible();
    await expect(page.getByRole('banner').locator('.nhsuk-header__service-name')).toHaveText('Riverside Surgery');
    await expect(page.getByRole('banner').getByRole('navigation', { name: 'Account' })).toContainText('Priya Shah');
    const nhsNumber = page.getByLabel('NHS number');
    await expect(nhsNumber).toBeVisible();
    await expect(nhsNumber).toHaveAccessibleDescription(/For example, 943 476 5919/);
    await expect(page.getByRole('button', { name: 'Find patient' })).toBeVisible();
    await expectNoAxeViolations(page);
  });

  test('finds a patient of their practice by NHS number', async ({ page }) => {
    // Given Priya is signed in
    await signIn(page, accounts.priya);

    // When she searches for Sarah's NHS number
    await findPatient(page, '9991000003');

    // Then she sees Sarah's record
    await expect(page).toHaveURL(/\/staff\/patients\/\d+$/);
    await waitForHydration(page);
    await expect(page.getByRole('heading', { level: 1, name: 'Sarah Jones' })).toBeVisible();
    await expect(page.getByRole('main')).toContainText('999 100 0003');
    await expect(page.getByRole('main')).toContainText('27 March 1984');
    await expectNoAxeViolations(page);

    // And Sarah can see that Priya looked at her record
    await signOut(page);
    await signIn(page, accounts.sarah);
    await page.goto('/access-log');
    await expect(page.getByRole('table').getByRole('row').filter({ hasText: 'Priya Shah (Receptionist)' }).first()).toBeVisible();
  });

  test('is told when an NHS number is not 10 digits', async ({ page }) => {
    // Given Priya is signed in
    await signIn(page, accounts.priya);

    // When she searches for "123"
    await findPatient(page, '123');

    // Then she stays on the search page with an error, and what she typed is kept
    await expect(page).toHaveURL(/\/staff$/);
    await waitForHydration(page);
    const summary = page.getByRole('alert');
    await expect(summary.getByRole('heading', { name: 'There is a problem' })).toBeVisible();
    await expect(summary).toContainText('NHS number must be 10 digits, like 943 476 5919');
    await expect(page.locator('#nhs_number-error')).toContainText('NHS number must be 10 digits, like 943 476 5919');
    await expect(page.getByLabel('NHS number')).toHaveValue('123');
    await expect(page).toHaveTitle(/^Error: /);
    await expectNoAxeViolations(page);
  });

  test('cannot find a patient registered at another practice', async ({ page }) => {
    // Given Amir, a patient at Hillside Medical Centre, and his NHS number
    await signIn(page, accounts.amir);
    await expect(page.getByRole('heading', { level: 1, name: 'Hello, Amir' })).toBeVisible();
    await expect(page.getByRole('banner').locator('.nhsuk-header__service-name')).toHaveText('Hillside Medical Centre');
    const shown = await page
      .locator('.nhsuk-summary-list__row')
      .filter({ has: page.getByRole('term').filter({ hasText: /^NHS number$/ }) })
      .getByRole('definition')
      .innerText();
    const amirsNumber = shown.replace(/\s/g, '');
    expect(amirsNumber).toMatch(/^\d{10}$/);
    await signOut(page);

    // When Priya at Riverside Surgery searches for it
    await signIn(page, accounts.priya);
    await findPatient(page, amirsNumber);

    // Then she is told no such patient is registered at her practice
    await expect(page).toHaveURL(/\/staff$/);
    await waitForHydration(page);
    await expect(page.getByRole('alert')).toContainText(NOT_REGISTERED);
    await expect(page.getByRole('main')).not.toContainText('Amir Hussain');
    await expectNoAxeViolations(page);
  });

  test("a receptionist at another practice cannot find Riverside's patient", async ({ page }) => {
    // Given Sam, a receptionist at Hillside Medical Centre
    await signIn(page, accounts.sam);
    await expect(page).toHaveURL(/\/staff$/);
    await expect(page.getByRole('banner').locator('.nhsuk-header__service-name')).toHaveText('Hillside Medical Centre');

    // When he searches for Sarah's NHS number (she is registered at Riverside Surgery)
    await findPatient(page, '9991000003');

    // Then he is told no such patient is registered at his practice
    await expect(page).toHaveURL(/\/staff$/);
    await waitForHydration(page);
    await expect(page.getByRole('alert')).toContainText(NOT_REGISTERED);
    await expect(page.getByRole('main')).not.toContainText('Sarah Jones');
    await expectNoAxeViolations(page);
  });
});
