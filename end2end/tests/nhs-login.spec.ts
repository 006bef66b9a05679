import fs from 'node:fs';
import path from 'node:path';
import { expect, type Locator, type Page } from '@playwright/test';
import {
  test,
  accounts,
  demoPatient,
  expectNoAxeViolations,
  formatNhsNumber,
  isHydrated,
  openSignIn,
  waitForHydration,
  type DemoPatient,
} from './helpers';

// Signing in with NHS login through a real OpenID provider: the test
// provider (testing/oidc-provider.mjs, see testing/README-oidc.md) that
// scripts/e2e-server starts on E2E_PORT+26, with the people it writes to
// target/e2e-$port/nhs-login-users.json. The browser goes to the provider's
// own pages and back, as a person would; axe checks the portal's pages (the
// provider's are test pages, not ours).
//
// The two projects share one portal and one provider, and the provider
// remembers a step-up for its whole life. So each test that changes
// something uses its own person in each project (a step-up can be taken
// once per person), and the others only do what can be done again.

const port = Number(process.env.E2E_PORT ?? 3100);
const portalOrigin = `http://127.0.0.1:${port}`;
const providerOrigin = `http://127.0.0.1:${port + 26}`;
const usersFile = path.join(__dirname, '..', '..', 'target', `e2e-${port}`, 'nhs-login-users.json');
/** Every test provider user has this password. */
const NHS_LOGIN_PASSWORD = 'nhs-login-test-password';

/** A person the test provider knows (testing/README-oidc.md, "Test users"). */
interface NhsLoginUser {
  email: string;
  sub: string;
  level: 'P0' | 'P5' | 'P9';
  nhs_number?: string;
  birthdate: string;
  given_name: string;
  family_name: string;
  behaviour?: string;
}

/** The provider's user with this email, as scripts/e2e-server wrote it for this run. */
function nhsLoginUser(email: string): NhsLoginUser {
  const users = JSON.parse(fs.readFileSync(usersFile, 'utf8')) as NhsLoginUser[];
  const user = users.find((u) => u.email === email);
  if (!user) throw new Error(`scripts/e2e-server gave the provider no user ${email} (see ${usersFile})`);
  return user;
}

/**
 * The demo patient an NHS login user is: the same NHS number and date of
 * birth by the helpers' own reckoning of the seed, so the script and the
 * specs cannot quietly disagree about who is who.
 */
function demoPatientFor(user: NhsLoginUser): DemoPatient & { nhsNumber: string } {
  const patient = demoPatient(user.given_name, user.family_name);
  const { year, month, day } = patient.dateOfBirth;
  expect(user.nhs_number, `${user.email}'s NHS number`).toBe(patient.nhsNumber);
  expect(user.birthdate, `${user.email}'s date of birth`).toBe(
    `${year}-${month.padStart(2, '0')}-${day.padStart(2, '0')}`,
  );
  return { ...patient, nhsNumber: patient.nhsNumber! };
}

/** A portal address, to compare whole URLs (not just the end of a path). */
function portal(pathAndQuery: string): string {
  return `${portalOrigin}${pathAndQuery}`;
}

/** The value cell of a summary-list row, found by its key (not the row's "Change" cell). */
function summaryValue(page: Page, key: string): Locator {
  return page
    .locator('.nhsuk-summary-list__row')
    .filter({ has: page.getByRole('term').filter({ hasText: new RegExp(`^${key}$`) }) })
    .locator('.nhsuk-summary-list__value');
}

/** Chooses the portal's "Continue with NHS login" (a link) once the page is ready. */
async function continueWithNhsLogin(page: Page): Promise<void> {
  await waitForHydration(page);
  await page.getByRole('link', { name: 'Continue with NHS login' }).click();
}

/** Signs in on the provider's own sign-in page, which the browser must be on. */
async function signInAtNhsLogin(page: Page, user: NhsLoginUser): Promise<void> {
  await expect(page).toHaveURL((url) => url.origin === providerOrigin);
  await expect(page.getByRole('heading', { level: 1, name: 'Sign in to NHS login (test provider)' })).toBeVisible();
  await page.getByLabel('Email address').fill(user.email);
  await page.getByLabel('Password').fill(NHS_LOGIN_PASSWORD);
  await page.getByRole('button', { name: 'Continue' }).click();
}

/** From the portal's sign-in page, through NHS login and back to the portal. */
async function signInWithNhsLogin(page: Page, user: NhsLoginUser): Promise<void> {
  await openSignIn(page);
  await continueWithNhsLogin(page);
  await signInAtNhsLogin(page, user);
  await expect(page).toHaveURL((url) => url.origin === portalOrigin);
  await waitForHydration(page);
}

/** The provider's step-up page: "Prove who you are", with its two buttons. */
async function expectStepUpPage(page: Page): Promise<void> {
  await expect(page).toHaveURL((url) => url.origin === providerOrigin);
  await expect(page.getByRole('heading', { level: 1, name: 'Prove who you are', exact: true })).toBeVisible();
}

/** The patient's home page, showing this patient's own record. */
async function expectOwnRecord(page: Page, patient: DemoPatient & { nhsNumber: string }): Promise<void> {
  await expect(page).toHaveURL(portal('/home'));
  await waitForHydration(page);
  await expect(page.getByRole('heading', { level: 1, name: `Hello, ${patient.givenName}` })).toBeVisible();
  await expect(summaryValue(page, 'Name')).toHaveText(`${patient.givenName} ${patient.familyName}`);
  await expect(summaryValue(page, 'NHS number')).toHaveText(formatNhsNumber(patient.nhsNumber));
  const account = page.getByRole('banner').getByRole('navigation', { name: 'Account' });
  await expect(account).toContainText(`${patient.givenName} ${patient.familyName}`);
  await expect(account.getByRole('button', { name: 'Sign out' })).toBeVisible();
}

test.describe('NHS login', () => {
  test('a patient with no online account signs in with NHS login and sees their record', async ({ page }) => {
    // Given a patient registered at Riverside Surgery with no online account,
    // whose NHS login has checked their photo ID (P9)
    const user = nhsLoginUser(isHydrated() ? 'mohammed.p9@nhslogin.test' : 'harry.p9@nhslogin.test');
    const patient = demoPatientFor(user);

    // When they open the sign-in page, which offers NHS login
    await openSignIn(page);
    await expect(page.getByRole('heading', { level: 2, name: 'Use NHS login' })).toBeVisible();
    await expectNoAxeViolations(page);
    // And choose "Continue with NHS login"
    await continueWithNhsLogin(page);
    // And sign in on NHS login's own page
    await signInAtNhsLogin(page, user);

    // Then they are back in the portal, signed in, on their own record
    await expectOwnRecord(page, patient);
    await expect(page.getByRole('banner').locator('.nhsuk-header__service-name')).toHaveText('Riverside Surgery');
    await expectNoAxeViolations(page);
  });

  test('a patient with a practice account signs in to that same account with NHS login', async ({ page }) => {
    // Given Sarah, who has a practice account, and an NHS login (P9) with her details
    const user = nhsLoginUser('sarah.p9@nhslogin.test');
    const patient = demoPatientFor(user);

    // When she signs in with NHS login
    await signInWithNhsLogin(page, user);

    // Then she sees her own record
    await expectOwnRecord(page, patient);
    await expectNoAxeViolations(page);
    // And it is her existing account: the one with her practice account's email address
    await page.goto('/account');
    await waitForHydration(page);
    await expect(page.getByRole('heading', { level: 1, name: 'Your account' })).toBeVisible();
    await expect(summaryValue(page, 'Email address')).toContainText(accounts.sarah);
    await expectNoAxeViolations(page);
  });

  test('a patient whose identity is not fully checked proves it with NHS login, then sees their record', async ({ page }) => {
    test.slow(); // two trips to NHS login
    // Given a patient whose NHS login matched their details to an NHS record
    // but has not checked their photo ID (P5); a step-up lasts for the
    // provider's life, so each project has its own
    const user = nhsLoginUser(isHydrated() ? 'george.p5@nhslogin.test' : 'chloe.p5@nhslogin.test');
    const patient = demoPatientFor(user);
    await signInWithNhsLogin(page, user);

    // They can open their account settings
    await page.goto('/account');
    await expect(page).toHaveURL(portal('/account'));
    await waitForHydration(page);
    await expect(page.getByRole('heading', { level: 1, name: 'Your account' })).toBeVisible();
    await expectNoAxeViolations(page);

    // When they open their GP record
    await page.goto('/home');

    // Then they are asked to prove who they are first, with NHS login or a registration letter
    await expect(page).toHaveURL(portal('/prove-identity'));
    await waitForHydration(page);
    await expect(page.getByRole('heading', { level: 1, name: 'Prove who you are to see your GP record' })).toBeVisible();
    await expect(page.getByRole('link', { name: 'Use your registration letter' })).toHaveAttribute('href', '/link-record');
    await expect(page.getByRole('link', { name: 'Continue with NHS login' })).toHaveAttribute(
      'href',
      '/auth/nhs-login?level=P9',
    );
    await expectNoAxeViolations(page);

    // When they continue with NHS login
    await continueWithNhsLogin(page);
    // Then NHS login asks them to sign in again (prompt=login), even though they just did
    await signInAtNhsLogin(page, user);
    // And to prove who they are, which they do
    await expectStepUpPage(page);
    await page.getByRole('button', { name: 'Confirm my identity' }).click();

    // Then they are back in the portal, and now see their record
    await expectOwnRecord(page, patient);
    await expectNoAxeViolations(page);
  });

  test('cancelling the identity check at NHS login changes nothing', async ({ page }) => {
    test.slow(); // two trips to NHS login
    // Given a patient signed in with a P5 NHS login (cancelling never raises
    // their level, so both projects can use the same person)
    const user = nhsLoginUser('emily.p5@nhslogin.test');
    demoPatientFor(user);
    await signInWithNhsLogin(page, user);
    await page.goto('/home');
    await expect(page).toHaveURL(portal('/prove-identity'));

    // When they continue with NHS login, sign in again, and cancel the identity check
    await continueWithNhsLogin(page);
    await signInAtNhsLogin(page, user);
    await expectStepUpPage(page);
    await page.getByRole('button', { name: 'Cancel' }).click();

    // Then the portal says they did not finish
    await expect(page).toHaveURL(portal('/nhs-login/problem?reason=cancelled'));
    await waitForHydration(page);
    await expect(
      page.getByRole('heading', { level: 1, name: 'You did not finish signing in with NHS login' }),
    ).toBeVisible();
    await expectNoAxeViolations(page);

    // And they are still signed in as before, their record still waiting for the check
    await page.goto('/home');
    await expect(page).toHaveURL(portal('/prove-identity'));
  });

  test('someone NHS login knows but who matches no patient is offered the registration letter', async ({ page }) => {
    // Given a P9 NHS login whose NHS number and date of birth match no registered patient
    const user = nhsLoginUser('nobody.p9@nhslogin.test');

    // When they sign in with NHS login
    await signInWithNhsLogin(page, user);

    // Then they are asked for the details on their practice's registration letter
    await expect(page).toHaveURL(portal('/link-record'));
    await expect(page.getByRole('heading', { level: 1, name: 'Use your registration letter' })).toBeVisible();
    await expect(page.getByLabel('Account ID')).toBeVisible();
    await expect(page.getByRole('button', { name: 'Link my record' })).toBeVisible();
    await expectNoAxeViolations(page);

    // And NHS login alone has opened no record
    await page.goto('/home');
    await expect(page).toHaveURL(portal('/sign-in'));
  });

  test('an ID token signed with the wrong key is refused and nobody is signed in', async ({ page }) => {
    // Given an NHS login whose ID token comes back signed with a key the provider never published
    const user = nhsLoginUser('other-key@nhslogin.test');
    expect(user.behaviour).toBe('other-key');

    // When they sign in with NHS login
    await signInWithNhsLogin(page, user);

    // Then the portal refuses the token and explains plainly
    await expect(page).toHaveURL(portal('/nhs-login/problem?reason=invalid-token'));
    await expect(
      page.getByRole('heading', { level: 1, name: 'We could not sign you in with NHS login' }),
    ).toBeVisible();
    await expect(page.getByRole('button', { name: 'Sign out' })).toHaveCount(0);
    await expectNoAxeViolations(page);

    // And nobody is signed in: the record asks for a sign-in
    await page.goto('/home');
    await expect(page).toHaveURL(portal('/sign-in'));
  });
});
