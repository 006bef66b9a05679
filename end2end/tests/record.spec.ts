import { expect, type Page } from '@playwright/test';
import { test, accounts, expectNoAxeViolations, isHydrated, signIn, signOut, waitForHydration } from './helpers';

// The demo patient (Sarah Jones, whose whole record is online after
// `portal seed-demo`) reads every section of her GP record; a clinician
// hides an entry and she no longer sees it. Both projects share one
// database, so each hides (and then shows again) its own entry.

async function open(page: Page, path: string, heading: string): Promise<void> {
  await page.goto(path);
  await waitForHydration(page);
  await expect(page.getByRole('heading', { level: 1, name: heading })).toBeVisible();
  await expectNoAxeViolations(page);
}

test('the demo patient reads every section of her record', async ({ page }) => {
  // Ten pages, each scanned by axe: longer than one form's journey.
  test.setTimeout(120_000);
  // Given Sarah is signed in
  await signIn(page, accounts.sarah);
  // When she opens her record from home
  await page.getByRole('link', { name: 'View your GP record' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Your GP record' })).toBeVisible();
  await waitForHydration(page);
  await expectNoAxeViolations(page);
  // Then the summary shows allergies, current medicines and problems, with where each came from
  const main = page.getByRole('main');
  await expect(main.getByRole('heading', { name: 'Penicillin allergy' })).toBeVisible();
  await expect(main.getByRole('heading', { name: 'Metformin 500mg tablets' })).toBeVisible();
  await expect(main.getByRole('heading', { name: 'Type 2 diabetes' })).toBeVisible();
  await expect(main.getByText(/One tablet b\.d\./).first()).toBeVisible();
  await expect(main.getByText('Riverside Surgery clinical system (demo)').first()).toBeVisible();

  // And the codes are there on demand
  const allergy = main.locator('.portal-record-entry', { hasText: 'Penicillin allergy' });
  await expect(allergy.getByText('91936005')).toBeHidden();
  await allergy.getByText('Technical details').click();
  await expect(allergy.getByText('91936005')).toBeVisible();
  await expect(allergy.getByText('SNOMED CT', { exact: true })).toBeVisible();

  // And every section opens
  for (const [path, heading, text] of [
    ['/record/allergies', 'Allergies and adverse reactions', 'Rash'],
    ['/record/medicines', 'Medicines', 'Clarithromycin 500mg tablets'],
    ['/record/problems', 'Health problems', 'Hypertension'],
    ['/record/immunisations', 'Vaccinations', 'Flu vaccine'],
    ['/record/consultations', 'Consultations', 'Telephone consultation'],
    ['/record/documents', 'Documents', 'Letter from the diabetes clinic'],
  ] as const) {
    await open(page, path, heading);
    await expect(main.getByText(text).first()).toBeVisible();
  }

  // And a document opens with its text
  await page.getByRole('link', { name: 'Read this document' }).first().click();
  await expect(page.getByRole('heading', { level: 1, name: 'Letter from the diabetes clinic' })).toBeVisible();
  await expect(main.getByText(/Her HbA1c.*has come down/).first()).toBeVisible();
  await expect(main.getByRole('link', { name: 'HbA1c (what this means)' }).first()).toBeVisible();
  await waitForHydration(page);
  await expectNoAxeViolations(page);

  // And test results are grouped by report, with a flag in words
  await open(page, '/record/test-results', 'Test results');
  await expect(main.getByRole('heading', { name: 'Diabetes blood tests, 10 September 2025' })).toBeVisible();
  await expect(main.getByText('Above the normal range').first()).toBeVisible();

  // And a repeated result has a trend chart, in words and as a table
  await main.getByRole('link', { name: /See how this has changed\s*: HbA1c/ }).first().click();
  await expect(page.getByRole('heading', { level: 1, name: 'HbA1c over time' })).toBeVisible();
  await expect(main.getByRole('img', { name: /Chart of HbA1c over time/ })).toBeVisible();
  await expect(main.locator('figcaption')).toContainText(/HbA1c: \d+ results from/);
  await expect(main.getByRole('table')).toContainText('48 mmol/mol');
  await waitForHydration(page);
  await expectNoAxeViolations(page);
});

test('test results filter by date, and a wrong date is explained', async ({ page }) => {
  test.setTimeout(90_000);
  await signIn(page, accounts.sarah);
  await open(page, '/record/test-results', 'Test results');
  const main = page.getByRole('main');
  await main.getByText('Show entries between two dates').click();
  const from = main.getByRole('group', { name: 'From' });
  await from.getByLabel('Day').fill('31');
  await from.getByLabel('Month').fill('2');
  await from.getByLabel('Year').fill('2025');
  await main.getByRole('button', { name: 'Show entries' }).click();
  await expect(page.getByRole('alert')).toContainText('The from date must be a real date');
  await expectNoAxeViolations(page);

  await from.getByLabel('Day').fill('1');
  await from.getByLabel('Month').fill('1');
  await from.getByLabel('Year').fill('2024');
  const to = main.getByRole('group', { name: 'To' });
  await to.getByLabel('Day').fill('31');
  await to.getByLabel('Month').fill('12');
  await to.getByLabel('Year').fill('2025');
  await main.getByRole('button', { name: 'Show entries' }).click();
  await expect(page).toHaveURL(/from_year=2024/);
  await expect(main.getByRole('heading', { name: 'Diabetes blood tests, 10 September 2025' })).toBeVisible();
  await expect(main.getByRole('heading', { name: /Diabetes blood tests, 20 November 2023/ })).toHaveCount(0);
  await expectNoAxeViolations(page);
});

test('a clinician hides an entry and the patient no longer sees it', async ({ page }) => {
  test.setTimeout(90_000);
  const entry = isHydrated() ? 'Ramipril 2.5mg capsules' : 'Clarithromycin 500mg tablets';
  const section = '/record/medicines';
  // Given Dr Okafor has Sarah's page open
  await signIn(page, accounts.tom);
  await page.getByLabel('NHS number').fill('999 100 0003');
  await page.getByRole('button', { name: 'Find patient' }).click();
  await expect(page.getByRole('heading', { name: 'GP record online' })).toBeVisible();
  await waitForHydration(page);
  await expectNoAxeViolations(page);
  // When he hides the entry with a reason
  const row = page.getByRole('row', { name: new RegExp(entry) });
  await row.getByLabel(/Reason for hiding/).fill('Information about a third party');
  await row.getByRole('button', { name: /Hide/ }).click();
  await expect(page.getByText('The entry is now hidden')).toBeVisible();
  await expect(page.getByRole('row', { name: new RegExp(entry) }).getByText('Hidden', { exact: true })).toBeVisible();
  await signOut(page);

  // Then Sarah does not see it, anywhere in the page
  await signIn(page, accounts.sarah);
  await page.goto(section);
  await waitForHydration(page);
  expect(await page.content()).not.toContain(entry);
  await signOut(page);

  // And when he shows it again, she does
  await signIn(page, accounts.tom);
  await page.getByLabel('NHS number').fill('999 100 0003');
  await page.getByRole('button', { name: 'Find patient' }).click();
  await page.getByRole('row', { name: new RegExp(entry) }).getByRole('button', { name: /Show online/ }).click();
  await expect(page.getByText('The entry is visible in this patient')).toBeVisible();
});

test('a medical word in the record links to its plain-English explanation', async ({ page }) => {
  // Given Sarah is reading her record
  await signIn(page, accounts.sarah);
  await open(page, '/record', 'Your GP record');
  // When she follows the link on "b.d." in how to take her metformin
  await page.getByRole('main').getByRole('link', { name: 'b.d. (what this means)' }).first().click();
  // Then the glossary opens at that entry
  await expect(page).toHaveURL(/\/glossary#b-d$/);
  await expect(page.getByRole('heading', { level: 1, name: 'Medical words explained' })).toBeVisible();
  await expect(page.locator('#b-d')).toBeVisible();
  await expectNoAxeViolations(page);
});

test('the patient prints a summary of her record to take to an appointment', async ({ page }) => {
  // Given Sarah is reading her record
  await signIn(page, accounts.sarah);
  await open(page, '/record', 'Your GP record');
  // When she follows "Print a summary of your record"
  await page.getByRole('link', { name: 'Print a summary of your record' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Summary of your GP record' })).toBeVisible();
  await waitForHydration(page);
  await expectNoAxeViolations(page);
  // Then it says who it is for, and holds her allergies, medicines and problems as tables
  const main = page.getByRole('main');
  await expect(main.getByText('999 100 0003')).toBeVisible();
  const allergies = main.getByRole('table', { name: 'Allergies and adverse reactions' });
  await expect(allergies.getByRole('row', { name: /Penicillin allergy/ })).toBeVisible();
  const repeats = main.getByRole('table', { name: 'Repeat medicines' });
  await expect(repeats.getByRole('row', { name: /Metformin 500mg tablets/ })).toBeVisible();
  await expect(main.getByRole('table', { name: 'Health problems' }).getByRole('row', { name: /Type 2 diabetes/ })).toBeVisible();
  // And the print button needs JavaScript, so only the hydrated page offers it
  await expect(page.getByRole('button', { name: 'Print this page' })).toHaveCount(isHydrated() ? 1 : 0);
  // And on paper only the summary is left: no header, back link or print button
  await page.emulateMedia({ media: 'print' });
  await expect(page.locator('header.nhsuk-header')).toBeHidden();
  await expect(page.getByRole('link', { name: 'Back to your GP record' })).toBeHidden();
  await expect(page.getByText('Or use your browser\'s print option')).toBeHidden();
  await expect(allergies).toBeVisible();
  await page.emulateMedia({ media: 'screen' });
});
