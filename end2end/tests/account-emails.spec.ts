import { expect, type Page } from '@playwright/test';
import {
  test,
  accounts,
  DEMO_PASSWORD,
  demoPatient,
  expectErrorSummary,
  expectNoAxeViolations,
  formatNhsNumber,
  isHydrated,
  openSignIn,
  recordPosts,
  signIn,
  waitForFormReady,
  waitForHydration,
  type DemoPatient,
} from './helpers';
import { lastEmailNumber, linkFrom, waitForEmail, type Email } from './mail';

// These journeys go through a real SMTP server (testing/mailsink.py, started
// by scripts/e2e-server): every email is read back from what it accepted.
// The two projects share one server and database, so each uses its own
// people: a patient can sign up only once per run.

/** The project this test runs in: "hydrated" or "no-js". */
function project(): string {
  return test.info().project.name;
}

/** A registered patient without an online account yet, different in each project. */
function newPatient(): DemoPatient & { email: string; password: string } {
  const patient = isHydrated() ? demoPatient('Margaret', 'Taylor') : demoPatient('James', 'Wilson');
  return {
    ...patient,
    email: `${patient.givenName.toLowerCase()}.${project()}@example.com`,
    password: `${patient.givenName} likes ${project()} teapots`,
  };
}

/** Fills the "Create an account" form. */
async function fillSignUp(
  page: Page,
  fields: { email: string; givenName: string; familyName: string; dob: DemoPatient['dateOfBirth']; nhsNumber: string; password: string },
): Promise<void> {
  await page.getByLabel('Email address').fill(fields.email);
  await page.getByLabel('First name').fill(fields.givenName);
  await page.getByLabel('Last name').fill(fields.familyName);
  const dob = page.getByRole('group', { name: 'Date of birth' });
  await dob.getByLabel('Day').fill(fields.dob.day);
  await dob.getByLabel('Month').fill(fields.dob.month);
  await dob.getByLabel('Year').fill(fields.dob.year);
  await page.getByLabel('NHS number').fill(fields.nhsNumber);
  await page.getByLabel('Password', { exact: true }).fill(fields.password);
}

/** The email carries nothing from the record and never the password: only the first name and the practice. */
function expectNothingPrivate(email: Email, patient: DemoPatient, password: string): void {
  const { day, month, year } = patient.dateOfBirth;
  const nhs = patient.nhsNumber ?? '';
  const secrets = [
    nhs,
    formatNhsNumber(nhs),
    year,
    `${day}/${month}/${year}`,
    `${year}-${month.padStart(2, '0')}-${day.padStart(2, '0')}`,
    password,
  ];
  for (const part of [email.subject, email.text, email.html]) {
    for (const secret of secrets) {
      expect(part, `the email must not contain "${secret}"`).not.toContain(secret);
    }
  }
}

/** Opens a link from an email, as a person clicking it in their mail program would. */
async function openEmailLink(page: Page, link: string): Promise<void> {
  // Links point at the portal's public address, which the tests use too.
  expect(new URL(link).origin).toBe(new URL(test.info().project.use.baseURL!).origin);
  await page.goto(link);
  await waitForHydration(page);
}

test.describe('Account emails', () => {
  test('sign up, confirm the email from the real mail server, then be asked to prove who you are', async ({ page }) => {
    test.slow(); // hashing a new password, and waiting for two emails
    const patient = newPatient();

    // Given a patient registered at Riverside Surgery with no online account, on the sign-in page
    await openSignIn(page);
    // When they follow "Create an account"
    await page.getByRole('link', { name: 'Create an account' }).click();
    await expect(page).toHaveURL(/\/sign-up$/);
    await waitForFormReady(page, 'Create an account', 'Show password');
    await expectNoAxeViolations(page);

    // And send the form empty
    const posts = recordPosts(page);
    await page.getByRole('button', { name: 'Create account' }).click();

    // Then every field is asked for, in the summary and by the field
    await expectErrorSummary(page, {
      email: 'Enter your email address',
      given_name: 'Enter your first name',
      family_name: 'Enter your last name',
      dob_day: 'Enter your date of birth',
      nhs_number: 'Enter an NHS number',
      password: 'Enter a password',
    });
    await expect(page).toHaveURL(/\/sign-up$/);
    // With JavaScript the check happened in the browser; without it, on the server
    expect(posts).toEqual(isHydrated() ? [] : ['/api/sign_up']);
    await waitForHydration(page);
    await expectNoAxeViolations(page);
    // And a link in the summary takes them to its field
    await page.getByRole('alert').getByRole('link', { name: 'Enter your first name' }).click();
    await expect(page.getByLabel('First name')).toBeFocused();

    // When they fill it in properly, giving the NHS number with spaces as it is printed on letters
    await fillSignUp(page, {
      email: patient.email,
      givenName: patient.givenName,
      familyName: patient.familyName,
      dob: patient.dateOfBirth,
      nhsNumber: formatNhsNumber(patient.nhsNumber!),
      password: patient.password,
    });
    await page.getByRole('button', { name: 'Create account' }).click();

    // Then they are asked to check their email, which names the address they gave
    await expect(page).toHaveURL(/\/sign-up\/check-email$/);
    await expect(page.getByRole('heading', { level: 1, name: 'Check your email' })).toBeVisible();
    await expect(page.getByRole('main')).toContainText(`we have sent an email to ${patient.email}`);
    await waitForHydration(page);
    await expectNoAxeViolations(page);

    // And the mail server received the confirmation email
    const first = await waitForEmail(patient.email, /Confirm your email address/);
    expect(first.subject).toBe('Confirm your email address - GP online services');
    expect(first.to).toEqual([patient.email]);
    expect(first.from).toBe('no-reply@portal.test');
    expect(first.fromName).toBe('GP online services');
    expect(first.messageId).toMatch(/^<.+@.+>$/);
    expect(first.text).toContain(`Hello ${patient.givenName},`);
    expect(first.text).toContain('Riverside Surgery');
    expect(first.html).toContain('Riverside Surgery');
    expectNothingPrivate(first, patient, patient.password);

    // When they sign in before confirming
    await signIn(page, patient.email, patient.password);
    // Then they are asked to confirm their address, not shown their record
    await expect(page).toHaveURL(/\/confirm-email$/);
    await expect(page.getByRole('heading', { level: 1, name: 'Confirm your email address' })).toBeVisible();
    await expect(page.getByRole('main')).toContainText(`We sent a link to ${patient.email}`);
    await expectNoAxeViolations(page);
    await page.goto('/home');
    await expect(page).toHaveURL(/\/confirm-email$/);
    await waitForHydration(page);

    // When they ask for the link again
    const beforeResend = await lastEmailNumber();
    await page.getByRole('button', { name: 'Send the link again' }).click();
    // Then they are told a new link is on its way, and it arrives
    await expect(page).toHaveURL(/\/confirm-email\?sent=1$/);
    await expect(page.getByRole('main')).toContainText(`We have sent a new link to ${patient.email}`);
    await waitForHydration(page);
    await expectNoAxeViolations(page);
    const second = await waitForEmail(patient.email, /Confirm your email address/, { after: beforeResend });
    const link = linkFrom(second, '/verify-email?token=');
    expect(link).not.toBe(linkFrom(first, '/verify-email?token='));

    // And the first link no longer works
    await openEmailLink(page, linkFrom(first, '/verify-email?token='));
    await expect(page.getByRole('heading', { level: 1, name: 'Confirm your email address' })).toBeVisible();
    await expect(page.getByRole('main').getByRole('link', { name: 'Ask for a new link' })).toBeVisible();
    await expect(page.getByRole('button', { name: 'Confirm email address' })).toHaveCount(0);

    // When they open the new link from the email
    await openEmailLink(page, link);
    await expect(page.getByRole('heading', { level: 1, name: 'Confirm your email address' })).toBeVisible();
    await expectNoAxeViolations(page);
    // And confirm
    await page.getByRole('button', { name: 'Confirm email address' }).click();

    // Then their address is confirmed
    await expect(page).toHaveURL(/\/email-confirmed$/);
    await expect(page.getByRole('heading', { level: 1, name: 'Your email address is confirmed' })).toBeVisible();
    await waitForHydration(page);
    await expectNoAxeViolations(page);

    // And when they go on to their record, they are asked to prove who they
    // are first: knowing their details is not proof of being them (P5)
    await page.goto('/home');
    await expect(page).toHaveURL(/\/prove-identity$/);
    await expect(page.getByRole('heading', { level: 1, name: 'Prove who you are to see your GP record' })).toBeVisible();
    await expect(page.getByRole('link', { name: 'Use your registration letter' })).toBeVisible();
    await expect(page.getByRole('banner').locator('.nhsuk-header__service-name')).toHaveText('Riverside Surgery');
    await waitForHydration(page);
    await expectNoAxeViolations(page);
  });

  test('bad sign-up input keeps what was typed', async ({ page }) => {
    const patient = newPatient();
    const badEmail = `${patient.givenName.toLowerCase()}@`;
    const badName = `<script>${patient.givenName}</script>`;

    // Given the "Create an account" page
    await page.goto('/sign-up');
    await waitForFormReady(page, 'Create an account', 'Show password');
    const posts = recordPosts(page);

    // When the form is sent with an incomplete email address, angle brackets in the first name and a short password
    await fillSignUp(page, {
      email: badEmail,
      givenName: badName,
      familyName: patient.familyName,
      dob: patient.dateOfBirth,
      nhsNumber: patient.nhsNumber!,
      password: 'too short',
    });
    await page.getByRole('button', { name: 'Create account' }).click();

    // Then each problem is explained
    await expectErrorSummary(page, {
      email: 'Enter an email address in the correct format, like name@example.com',
      given_name: 'First name must only include letters, spaces, hyphens and apostrophes',
      password: 'Password must be at least 12 characters. Try three random words',
    });
    expect(posts).toEqual(isHydrated() ? [] : ['/api/sign_up']);

    // And everything typed is still there, exactly, except the password
    await expect(page.getByLabel('Email address')).toHaveValue(badEmail);
    await expect(page.getByLabel('First name')).toHaveValue(badName);
    await expect(page.getByLabel('Last name')).toHaveValue(patient.familyName);
    const dob = page.getByRole('group', { name: 'Date of birth' });
    await expect(dob.getByLabel('Day')).toHaveValue(patient.dateOfBirth.day);
    await expect(dob.getByLabel('Month')).toHaveValue(patient.dateOfBirth.month);
    await expect(dob.getByLabel('Year')).toHaveValue(patient.dateOfBirth.year);
    await expect(page.getByLabel('NHS number')).toHaveValue(patient.nhsNumber!);
    if (isHydrated()) {
      // Checked in the browser: the password never left it, so it is left as typed
      await expect(page.getByLabel('Password', { exact: true })).toHaveValue('too short');
    } else {
      // Checked by the server, which never sends a password back
      await expect(page.getByLabel('Password', { exact: true })).toHaveValue('');
    }
    // And the name was shown as text, never as markup
    await expect(page.getByRole('main').locator('script')).toHaveCount(0);
    await waitForHydration(page);
    await expectNoAxeViolations(page);
  });

  test('reset a forgotten password', async ({ page }) => {
    test.slow(); // several password hashes, and waiting for two emails
    // Oliver and Amir are demo patients; other specs sign in as them with the
    // demo password, which this test puts back at the end.
    const account = isHydrated() ? accounts.oliver : accounts.amir;
    const givenName = isHydrated() ? 'Oliver' : 'Amir';
    const newPassword = `a fresh ${project()} password`;

    // Given the sign-in page
    await openSignIn(page);
    // When they follow "Forgotten your password?"
    await page.getByRole('link', { name: 'Forgotten your password?' }).click();
    await expect(page).toHaveURL(/\/forgot-password$/);
    await waitForFormReady(page, 'Reset your password');
    await expectNoAxeViolations(page);

    // And send the form empty, they are asked for their email address
    await page.getByRole('button', { name: 'Send reset link' }).click();
    await expectErrorSummary(page, { email: 'Enter your email address' });
    await waitForHydration(page);
    await expectNoAxeViolations(page);

    // When they give the address they sign in with
    const before = await lastEmailNumber();
    await page.getByLabel('Email address').fill(account);
    await page.getByRole('button', { name: 'Send reset link' }).click();
    // Then they are told to check their email
    await expect(page).toHaveURL(/\/forgot-password\/sent$/);
    await expect(page.getByRole('heading', { level: 1, name: 'Check your email' })).toBeVisible();
    await expect(page.getByRole('main')).toContainText(`If an account uses ${account}, we have sent it a link`);
    await waitForHydration(page);
    await expectNoAxeViolations(page);

    // And the reset email arrives, with a link
    const resetEmail = await waitForEmail(account, /Reset your password/, { after: before });
    expect(resetEmail.subject).toBe('Reset your password - GP online services');
    expect(resetEmail.from).toBe('no-reply@portal.test');
    expect(resetEmail.text).toContain(`Hello ${givenName},`);
    const link = linkFrom(resetEmail, '/reset-password?token=');

    // The same link, opened in a second tab before it is used
    const secondTab = await page.context().newPage();
    await secondTab.goto(link);
    await expect(secondTab.getByRole('heading', { level: 1, name: 'Choose a new password' })).toBeVisible();

    // When they open the link
    await openEmailLink(page, link);
    await waitForFormReady(page, 'Choose a new password', 'Show new password');
    await expectNoAxeViolations(page);

    // And choose a password that is too short
    await page.getByLabel('New password').fill('short');
    await page.getByRole('button', { name: 'Save new password' }).click();
    // Then they are told why it will not do
    await expectErrorSummary(page, { password: 'Password must be at least 12 characters. Try three random words' });
    await expect(page.getByLabel('New password')).toHaveValue('');
    await waitForFormReady(page, 'Choose a new password', 'Show new password');
    await expectNoAxeViolations(page);

    // When they choose a good one
    await page.getByLabel('New password').fill(newPassword);
    await page.getByRole('button', { name: 'Save new password' }).click();
    // Then their password has been changed
    await expect(page).toHaveURL(/\/password-reset-done$/);
    await expect(page.getByRole('heading', { level: 1, name: 'Your password has been changed' })).toBeVisible();
    await waitForHydration(page);
    await expectNoAxeViolations(page);
    // And they are told so by email too
    const changedEmail = await waitForEmail(account, /Your password has been changed/, { after: before });
    expect(changedEmail.subject).toBe('Your password has been changed - GP online services');
    expect(changedEmail.text).not.toContain(newPassword);

    // And the old password no longer works
    await openSignIn(page);
    await page.getByLabel('Email address').fill(account);
    await page.getByLabel('Password', { exact: true }).fill(DEMO_PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await expect(page.getByRole('alert')).toContainText('Enter a correct email address and password');

    // And the new one does
    await signIn(page, account, newPassword);
    await expect(page).toHaveURL(/\/home$/);
    await expect(page.getByRole('heading', { level: 1, name: `Hello, ${givenName}` })).toBeVisible();

    // When the link is opened again, it says it has been used
    await openEmailLink(page, link);
    await expect(page.getByRole('main')).toContainText('This link has already been used');
    await expect(page.getByRole('button', { name: 'Save new password' })).toHaveCount(0);
    await expectNoAxeViolations(page);

    // And the tab opened before it was used cannot use it either
    await secondTab.getByLabel('New password').fill('yet another new password');
    await secondTab.getByRole('button', { name: 'Save new password' }).click();
    await expect(secondTab.getByRole('main')).toContainText('This link has already been used');
    await secondTab.close();

    // When the link is changed by one character, it is not valid
    const tampered = link.slice(0, -1) + (link.endsWith('A') ? 'B' : 'A');
    await openEmailLink(page, tampered);
    await expect(page.getByRole('main')).toContainText('This link is not valid');
    await expect(page.getByRole('button', { name: 'Save new password' })).toHaveCount(0);
    await expectNoAxeViolations(page);

    // Finally, put the demo password back for the other specs
    await page.goto('/account/password');
    await waitForFormReady(page, 'Change your password', 'Show new password');
    await page.getByLabel('Current password').fill(newPassword);
    await page.getByLabel('New password').fill(DEMO_PASSWORD);
    await page.getByRole('button', { name: 'Change password' }).click();
    await expect(page).toHaveURL(/\/account\?changed=password$/);
    await expect(page.getByRole('alert')).toContainText('Your password has been changed');
  });

  test('account settings', async ({ page }) => {
    test.slow(); // six axe scans; without JavaScript each one opens a scratch page
    // Sarah's email address and password are used by other specs: nothing here changes them.
    // Given Sarah is signed in
    await signIn(page, accounts.sarah);

    // When she follows "Your account" in the header
    await page.getByRole('banner').getByRole('link', { name: 'Your account' }).click();
    // Then she sees her address and which emails she gets
    await expect(page).toHaveURL(/\/account$/);
    await expect(page.getByRole('heading', { level: 1, name: 'Your account' })).toBeVisible();
    const main = page.getByRole('main');
    await expect(main).toContainText(accounts.sarah);
    await expect(main).toContainText('When your GP practice sends you a message: on');
    await waitForHydration(page);
    await expectNoAxeViolations(page);

    // When she turns off emails about new messages
    await main.getByRole('link', { name: 'Change email notifications' }).click();
    await expect(page).toHaveURL(/\/account\/notifications$/);
    await waitForFormReady(page, 'Email notifications');
    await expectNoAxeViolations(page);
    const newMessages = page.getByRole('checkbox', { name: 'When your GP practice sends you a message' });
    await expect(newMessages).toBeChecked();
    await newMessages.uncheck();
    await page.getByRole('button', { name: 'Save preferences' }).click();

    // Then she is back on her account page, which says so
    await expect(page).toHaveURL(/\/account\?changed=preferences$/);
    await expect(page.getByRole('alert')).toContainText('Your email preferences have been saved');
    await expect(main).toContainText('When your GP practice sends you a message: off');
    await expect(main).toContainText('Appointment reminders, the day before: on');
    await waitForHydration(page);
    await expectNoAxeViolations(page);

    // And turning it back on works too
    await page.goto('/account/notifications');
    await waitForFormReady(page, 'Email notifications');
    await expect(newMessages).not.toBeChecked();
    await newMessages.check();
    await page.getByRole('button', { name: 'Save preferences' }).click();
    await expect(page).toHaveURL(/\/account\?changed=preferences$/);
    await expect(main).toContainText('When your GP practice sends you a message: on');

    // When she tries to change her password with a wrong current password
    await main.getByRole('link', { name: 'Change password' }).click();
    await expect(page).toHaveURL(/\/account\/password$/);
    await waitForFormReady(page, 'Change your password', 'Show new password');
    await expectNoAxeViolations(page);
    await page.getByLabel('Current password').fill('not my password at all');
    await page.getByLabel('New password').fill('a perfectly good new password');
    await page.getByRole('button', { name: 'Change password' }).click();
    // Then she is told, and nothing changes
    await expect(page).toHaveURL(/\/account\/password$/);
    await expectErrorSummary(page, { current_password: 'Your current password is not right. Check it and try again' });
    await expect(page.getByLabel('Current password')).toHaveValue('');
    await expect(page.getByLabel('New password')).toHaveValue('');
    await waitForFormReady(page, 'Change your password', 'Show new password');
    await expectNoAxeViolations(page);

    // And the page to change her email address is there for her
    await page.getByRole('link', { name: 'Back to your account' }).click();
    await expect(page).toHaveURL(/\/account$/);
    await page.getByRole('main').getByRole('link', { name: 'Change email address' }).click();
    await expect(page).toHaveURL(/\/account\/email$/);
    await waitForFormReady(page, 'Change your email address', 'Show password');
    await expect(page.getByLabel('New email address')).toBeVisible();
    await expectNoAxeViolations(page);
  });

  test('a system administrator sees the email outbox', async ({ page }) => {
    // Given an email has just been sent: a reset link the administrator asked for and will not use
    const before = await lastEmailNumber();
    await page.goto('/forgot-password');
    await waitForFormReady(page, 'Reset your password');
    await page.getByLabel('Email address').fill(accounts.admin);
    await page.getByRole('button', { name: 'Send reset link' }).click();
    await expect(page).toHaveURL(/\/forgot-password\/sent$/);
    await waitForEmail(accounts.admin, /Reset your password/, { after: before });

    // And the system administrator is signed in
    await signIn(page, accounts.admin);
    await expect(page).toHaveURL(/\/admin$/);

    // When they follow the link to the emails
    await page.getByRole('main').getByRole('link', { name: 'See emails waiting to be sent, and any that failed' }).click();

    // Then they see how the outbox is doing
    await expect(page).toHaveURL(/\/admin\/emails$/);
    await expect(page.getByRole('heading', { level: 1, name: 'Emails' })).toBeVisible();
    const row = (key: string) =>
      page.locator('.nhsuk-summary-list__row').filter({ has: page.getByRole('term').filter({ hasText: new RegExp(`^${key}$`) }) }).getByRole('definition');
    await expect(row('Waiting to be sent')).toHaveText(/^\d+$/);
    await expect(row('Failed')).toHaveText('0');
    // The mail server has the email; the outbox may take a moment to record it as sent
    await expect(async () => {
      await page.reload();
      expect(Number(await row('Sent in the last 24 hours').innerText())).toBeGreaterThanOrEqual(1);
    }).toPass({ timeout: 10_000 });
    await expect(page.getByRole('heading', { level: 2, name: 'Emails that could not be sent' })).toBeVisible();
    await expect(page.getByRole('main')).toContainText('No emails have failed.');
    await waitForHydration(page);
    await expectNoAxeViolations(page);
  });
});
