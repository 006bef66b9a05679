import { expect, type Browser, type Page } from '@playwright/test';
import {
  test,
  accounts,
  demoPatient,
  expectErrorSummary,
  expectNoAxeViolations,
  formatNhsNumber,
  isHydrated,
  signIn,
  waitForFormReady,
  waitForHydration,
  type DemoPatient,
} from './helpers';
import { linkFrom, waitForEmail } from './mail';

// A receptionist creates a registration letter (account ID + linkage key)
// for a patient of her practice; the patient, who signed up online and so
// cannot see their record yet (P5), types the letter in and sees it. The
// two projects share one server and database, so each uses its own Hillside
// patient (no one else's spec signs them up).

function project(): string {
  return test.info().project.name;
}

/** A Hillside patient with no online account, different in each project. */
function letterPatient(): DemoPatient & { email: string; password: string } {
  const patient = isHydrated() ? demoPatient('Sophie', 'Clarke') : demoPatient('William', 'Lewis');
  return {
    ...patient,
    email: `${patient.givenName.toLowerCase()}.letter.${project()}@example.com`,
    password: `${patient.givenName} keeps ${project()} letters safe`,
  };
}

/** A second browser with its own cookies, JavaScript as this project has it. */
async function openSecondBrowser(browser: Browser): Promise<{ page: Page; close(): Promise<void> }> {
  const context = await browser.newContext({
    baseURL: test.info().project.use.baseURL,
    javaScriptEnabled: isHydrated(),
    locale: 'en-GB',
    timezoneId: 'Europe/London',
  });
  return { page: await context.newPage(), close: () => context.close() };
}

/** The patient creates an account online and confirms their address: P5. */
async function signUpOnline(page: Page, patient: ReturnType<typeof letterPatient>): Promise<void> {
  await page.goto('/sign-up');
  await waitForFormReady(page, 'Create an account', 'Show password');
  await page.getByLabel('Email address').fill(patient.email);
  await page.getByLabel('First name').fill(patient.givenName);
  await page.getByLabel('Last name').fill(patient.familyName);
  const dob = page.getByRole('group', { name: 'Date of birth' });
  await dob.getByLabel('Day').fill(patient.dateOfBirth.day);
  await dob.getByLabel('Month').fill(patient.dateOfBirth.month);
  await dob.getByLabel('Year').fill(patient.dateOfBirth.year);
  await page.getByLabel('NHS number').fill(formatNhsNumber(patient.nhsNumber!));
  await page.getByLabel('Password', { exact: true }).fill(patient.password);
  await page.getByRole('button', { name: 'Create account' }).click();
  await expect(page).toHaveURL(/\/sign-up\/check-email$/);
  const email = await waitForEmail(patient.email, /Confirm your email address/);
  await page.goto(linkFrom(email, '/verify-email?token='));
  await waitForHydration(page);
  await page.getByRole('button', { name: 'Confirm email address' }).click();
  await expect(page).toHaveURL(/\/email-confirmed$/);
}

/** Fills "Use your registration letter". */
async function fillLetter(
  page: Page,
  fields: { accountId: string; key: string; ods: string; familyName: string; dob: DemoPatient['dateOfBirth'] },
): Promise<void> {
  await page.getByLabel('Account ID').fill(fields.accountId);
  await page.getByLabel('Linkage key').fill(fields.key);
  await page.getByLabel('Practice ODS code').fill(fields.ods);
  await page.getByLabel('Last name').fill(fields.familyName);
  const dob = page.getByRole('group', { name: 'Date of birth' });
  await dob.getByLabel('Day').fill(fields.dob.day);
  await dob.getByLabel('Month').fill(fields.dob.month);
  await dob.getByLabel('Year').fill(fields.dob.year);
}

test.describe('Registration letters', () => {
  test('a receptionist creates a letter and the patient uses it to see their record', async ({ page, browser }) => {
    test.slow(); // two people, a sign-up and its email
    const patient = letterPatient();

    // Given Sam, a receptionist at Hillside Medical Centre, has found the patient
    // (signIn gives his authenticator code at /mfa)
    await signIn(page, accounts.sam);
    await expect(page).toHaveURL(/\/staff$/);
    await page.getByLabel('NHS number').fill(patient.nhsNumber!);
    await page.getByRole('button', { name: 'Find patient' }).click();
    await expect(page).toHaveURL(/\/staff\/patients\/\d+$/);
    const patientPage = new URL(page.url()).pathname;
    await waitForHydration(page);
    await expect(page.getByRole('heading', { level: 2, name: 'Registration letter' })).toBeVisible();
    await expect(page.getByRole('main')).toContainText('No registration letter has been created for this patient');
    await expectNoAxeViolations(page);

    // When he creates a registration letter
    await page.getByRole('button', { name: 'Create registration letter' }).click();

    // Then the letter is shown, to print, with the practice, the patient and the details to type in
    await expect(page).toHaveURL(/\/staff\/patients\/\d+\/letter$/);
    await expect(page.getByRole('heading', { level: 1, name: 'Your registration letter for GP online services' })).toBeVisible();
    const letter = page.locator('.portal-letter');
    await expect(letter).toContainText('Hillside Medical Centre');
    await expect(letter).toContainText('Practice ODS code: Y90002');
    await expect(letter).toContainText(`Dear ${patient.givenName} ${patient.familyName},`);
    await expect(letter).toContainText('Use your registration letter');
    const accountId = (await page.locator('#letter-account-id').innerText()).trim();
    const key = (await page.locator('#letter-linkage-key').innerText()).trim();
    expect(accountId).toMatch(/^\d{3} \d{3} \d{4}$/);
    expect(key).toMatch(/^[A-Z2-9]{5} [A-Z2-9]{5} [A-Z2-9]{5}$/);
    await waitForHydration(page);
    // Printing needs JavaScript for the button; without it the browser's own print command is used
    await expect(page.getByRole('button', { name: 'Print this letter' })).toHaveCount(isHydrated() ? 1 : 0);
    await expectNoAxeViolations(page);

    // And it is shown only once
    await page.reload();
    await expect(page.getByRole('heading', { level: 1, name: 'This letter has already been shown' })).toBeVisible();
    await expect(page.getByRole('main')).not.toContainText(key);
    await waitForHydration(page);
    await expectNoAxeViolations(page);

    // And the patient's page says a letter is waiting, without the key
    await page.goto(patientPage);
    await waitForHydration(page);
    await expect(page.getByRole('main')).toContainText('Waiting to be used');
    await expect(page.getByRole('main')).toContainText(accountId);
    await expect(page.getByRole('main')).not.toContainText(key);
    await expect(page.getByRole('button', { name: 'Cancel this letter' })).toBeVisible();
    await expectNoAxeViolations(page);

    // Given the patient, in their own browser, signed up online: their record stays closed
    const own = await openSecondBrowser(browser);
    try {
      const p = own.page;
      await signUpOnline(p, patient);
      await signIn(p, patient.email, patient.password);
      await p.goto('/home');
      await expect(p).toHaveURL(/\/prove-identity$/);

      // When they choose to use their registration letter
      await p.getByRole('link', { name: 'Use your registration letter' }).click();
      await expect(p).toHaveURL(/\/link-record$/);
      await waitForFormReady(p, 'Use your registration letter');
      await expectNoAxeViolations(p);

      // And send it with a wrong last name
      await fillLetter(p, { accountId, key, ods: 'Y90002', familyName: 'Someone', dob: patient.dateOfBirth });
      await p.getByRole('button', { name: 'Link my record' }).click();

      // Then they are told the details do not match and how many tries are left, and the key is not kept
      await expect(p).toHaveURL(/\/link-record$/);
      await waitForHydration(p);
      await expectErrorSummary(p, {
        account_id:
          'The details you entered do not match your registration letter and GP record. Check each one against your letter and try again. You can try 2 more times before the letter stops working',
      });
      await expect(p.getByLabel('Account ID')).toHaveValue(accountId);
      await expect(p.getByLabel('Last name')).toHaveValue('Someone');
      await expect(p.getByLabel('Linkage key')).toHaveValue('');
      await expectNoAxeViolations(p);

      // When they type it as people do: lower case, hyphens, no spaces in the account ID
      await fillLetter(p, {
        accountId: accountId.replace(/ /g, ''),
        key: key.toLowerCase().replace(/ /g, '-'),
        ods: 'y90002',
        familyName: patient.familyName.toUpperCase(),
        dob: patient.dateOfBirth,
      });
      await p.getByRole('button', { name: 'Link my record' }).click();

      // Then their record opens, and they are told it is linked
      await expect(p).toHaveURL(/\/home\?linked=1$/);
      await expect(p.getByText('Your online account is now linked to your GP record')).toBeVisible();
      await expect(p.getByRole('heading', { level: 1, name: `Hello, ${patient.givenName}` })).toBeVisible();
      await waitForHydration(p);
      await expectNoAxeViolations(p);

      // And their access log shows the letter being created and used
      await p.goto('/access-log');
      await expect(p.getByRole('table')).toContainText('Created a registration letter for your online services');
      await expect(p.getByRole('table')).toContainText('Entered the details from your registration letter');
    } finally {
      await own.close();
    }

    // And the receptionist sees the letter has been used
    await page.goto(patientPage);
    await waitForHydration(page);
    await expect(page.getByRole('main')).toContainText('Used');
    await expect(page.getByRole('button', { name: 'Cancel this letter' })).toHaveCount(0);
    await expect(page.getByRole('button', { name: 'Create a new letter' })).toBeVisible();
  });

  test('someone not signed in is told to sign in first', async ({ page }) => {
    await page.goto('/link-record');
    await expect(page.getByRole('heading', { level: 1, name: 'Use your registration letter' })).toBeVisible();
    await expect(page.getByRole('main')).toContainText('sign in first with NHS login or with the account you created');
    await expect(page.getByRole('main').getByRole('link', { name: 'Sign in' })).toBeVisible();
    await waitForHydration(page);
    await expectNoAxeViolations(page);
  });
});
