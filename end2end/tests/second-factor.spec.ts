import { expect, type Page } from '@playwright/test';
import {
  test,
  accounts,
  currentStep,
  DEMO_TOTP_SECRET,
  expectErrorSummary,
  expectNoAxeViolations,
  giveSecondFactor,
  signIn,
  signOut,
  submitAndWait,
  totpCode,
  wrongTotpCode,
} from './helpers';

// Staff give a code from an authenticator app after their password. The two
// projects share one server, so each has its own new member of staff with no
// app yet (scripts/e2e-server creates them).

function newStarter(): { email: string; name: string } {
  const project = test.info().project.name;
  return {
    email: `new.starter.${project}@riverside.example.com`,
    name: project === 'hydrated' ? 'Nadia Patel' : 'Noor Patel',
  };
}

/** A practice manager resets a colleague's second factor from their team page. */
async function resetSecondFactor(page: Page, name: string): Promise<void> {
  await page.goto('/staff/team');
  await page.getByRole('link', { name: `Reset second factor for ${name}` }).click();
  await expect(page).toHaveURL(/\/staff\/team\/\d+\/reset$/);
  await expect(page.getByRole('heading', { level: 1, name: `Reset ${name}'s second factor?` })).toBeVisible();
  await submitAndWait(page, page.getByRole('button', { name: 'Reset second factor' }));
  await expect(page).toHaveURL(/\/staff\/team\?reset=1$/);
}

test.describe('Staff second factor', () => {
  test('a member of staff gives the code from their authenticator app after their password', async ({ page }) => {
    // Given Dr Okafor, a clinician with an authenticator app set up
    // (each person's codes work once, so specs share people sparingly)
    // When he signs in with his password
    await signIn(page, accounts.tom, undefined, { giveSecondFactor: false });

    // Then he is asked for the code from his app, with a recovery code as the other way in
    await expect(page).toHaveURL(/\/mfa$/);
    await expect(
      page.getByRole('heading', { level: 1, name: 'Enter the 6-digit code from your authenticator app' }),
    ).toBeVisible();
    await expect(page.getByText('Use a recovery code instead')).toBeVisible();
    await expectNoAxeViolations(page);

    // When he types a wrong code
    await page.getByLabel('Code from your authenticator app').fill(wrongTotpCode(DEMO_TOTP_SECRET));
    await submitAndWait(page, page.getByRole('button', { name: 'Continue', exact: true }));

    // Then he is told plainly, and stays where he is
    await expect(page).toHaveURL(/\/mfa$/);
    await expectErrorSummary(page, { code: 'The code is not right. Enter the code your authenticator app shows now' });
    await expectNoAxeViolations(page);

    // When he enters the code his app shows now
    await giveSecondFactor(page, accounts.tom);

    // Then he reaches the staff home
    await expect(page).toHaveURL(/\/staff$/);
    await expect(page.getByRole('heading', { level: 1, name: 'Find a patient' })).toBeVisible();
  });

  test('a new member of staff sets up an authenticator app and saves recovery codes', async ({ page }) => {
    // Given a clinician whose account the practice has just made (set up
    // afresh: a manager resets her, in case an earlier run got further)
    const starter = newStarter();
    await signIn(page, accounts.helen);
    await resetSecondFactor(page, starter.name);
    await signOut(page);

    // When she signs in for the first time
    await signIn(page, starter.email);

    // Then she is asked to set up an authenticator app, with a QR code and the key as text
    await expect(page).toHaveURL(/\/mfa\/setup$/);
    await expect(page.getByRole('heading', { level: 1, name: 'Set up your authenticator app' })).toBeVisible();
    const qr = page.getByRole('img', { name: /^QR code for your authenticator app/ });
    await expect(qr).toBeVisible();
    await expect(page.locator('svg.portal-qr-code')).toBeVisible();
    const key = (await page.locator('#setup-key').innerText()).replace(/\s/g, '');
    expect(key).toMatch(/^[A-Z2-7]{32}$/);
    await expectNoAxeViolations(page);

    // When she types a code that is not her app's
    await page.getByLabel('Enter the 6-digit code the app shows').fill(wrongTotpCode(key));
    await submitAndWait(page, page.getByRole('button', { name: 'Continue', exact: true }));

    // Then she is told plainly, and the same key is still shown
    await expect(page).toHaveURL(/\/mfa\/setup$/);
    await expectErrorSummary(page, { code: 'The code is not right. Enter the code your authenticator app shows now' });
    expect((await page.locator('#setup-key').innerText()).replace(/\s/g, '')).toBe(key);
    await expectNoAxeViolations(page);

    // When she enters the code her app shows, from the key she typed in
    await page.getByLabel('Enter the 6-digit code the app shows').fill(totpCode(key, currentStep()));
    await submitAndWait(page, page.getByRole('button', { name: 'Continue', exact: true }));

    // Then she sees ten recovery codes, once
    await expect(page).toHaveURL(/\/mfa\/recovery-codes$/);
    await expect(page.getByRole('heading', { level: 1, name: 'Save your recovery codes' })).toBeVisible();
    const codes = page.locator('.portal-recovery-codes code');
    await expect(codes).toHaveCount(10);
    for (const code of await codes.allInnerTexts()) {
      expect(code).toMatch(/^[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}$/);
    }
    await expectNoAxeViolations(page);

    // And when she has saved them, she reaches the staff home
    await page.getByRole('link', { name: 'I have saved my recovery codes' }).click();
    await expect(page).toHaveURL(/\/staff$/);
    await expect(page.getByRole('heading', { level: 1, name: 'Find a patient' })).toBeVisible();

    // And the codes are not shown again
    await page.goto('/mfa/recovery-codes');
    await expect(
      page.getByRole('heading', { level: 1, name: 'Your recovery codes have already been shown' }),
    ).toBeVisible();
    await expect(page.locator('.portal-recovery-codes code')).toHaveCount(0);
  });

  test('a practice manager sees who has set up an app and resets a colleague', async ({ page }) => {
    // Given Helen, the practice manager at Riverside Surgery
    const starter = newStarter();
    await signIn(page, accounts.helen);

    // When she opens her team from the header
    await page.getByRole('navigation', { name: 'Menu' }).getByRole('link', { name: 'Your team' }).click();

    // Then she sees her colleagues and whether each has an authenticator app
    await expect(page).toHaveURL(/\/staff\/team$/);
    await expect(page.getByRole('heading', { level: 1, name: 'Your team' })).toBeVisible();
    const priya = page.getByRole('row').filter({ hasText: 'Priya Shah' });
    // (Seeded with an app; only the new starters are ever reset.)
    await expect(priya).toContainText('Receptionist');
    await expect(priya).toContainText('Set up');
    await expect(page.getByRole('row').filter({ hasText: 'Helen Marsh' })).toContainText('This is you');
    await expect(page.getByRole('main')).not.toContainText('Sam Lee');
    await expectNoAxeViolations(page);

    // When she resets the new starter's second factor, after a confirmation step
    await page.getByRole('link', { name: `Reset second factor for ${starter.name}` }).click();
    await expect(page.getByRole('heading', { level: 1, name: `Reset ${starter.name}'s second factor?` })).toBeVisible();
    await expectNoAxeViolations(page);
    await submitAndWait(page, page.getByRole('button', { name: 'Reset second factor' }));

    // Then she is told it is done, and the starter has no app set up
    await expect(page).toHaveURL(/\/staff\/team\?reset=1$/);
    await expect(page.getByRole('alert')).toContainText('Their second factor has been reset');
    await expect(page.getByRole('row').filter({ hasText: starter.name })).toContainText('Not set up');
    await expectNoAxeViolations(page);

    // And the starter, signing in next, sets up an app again
    await signOut(page);
    await signIn(page, starter.email);
    await expect(page).toHaveURL(/\/mfa\/setup$/);
  });

  test('a receptionist has no team page', async ({ page }) => {
    // Given Sam, a receptionist
    await signIn(page, accounts.sam);

    // Then his header has no team link, and the page is refused
    await expect(page.getByRole('navigation', { name: 'Menu' }).getByRole('link', { name: 'Your team' })).toHaveCount(0);
    await page.goto('/staff/team');
    await expect(page).toHaveURL(/\/forbidden$/);
  });
});
