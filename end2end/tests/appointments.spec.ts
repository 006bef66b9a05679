import { expect, type Page } from '@playwright/test';
import {
  test,
  accounts,
  expectErrorSummary,
  expectNoAxeViolations,
  isHydrated,
  signIn,
  signOut,
  submitAndWait,
  ukDateParts,
  waitForHydration,
} from './helpers';
import { lastEmailNumber, waitForEmail } from './mail';

// A receptionist publishes a session; a patient finds one of its slots,
// books it (reason, check your answers, confirm), gets the confirmation
// email with a calendar file at the real SMTP server, and cancels it. The
// two projects share one server, so each publishes its own clinician's
// session and books from it.

function clinician(): string {
  return isHydrated() ? 'Dr Hydra Test' : 'Dr Plain Test';
}

/** A UK date some days ahead, as the form's day, month and year. */
function daysAhead(days: number): { day: string; month: string; year: string } {
  return ukDateParts(new Date(Date.now() + days * 86_400_000));
}

async function publishSession(page: Page): Promise<void> {
  await page.goto('/staff/appointments/new');
  await waitForHydration(page);
  await expect(page.getByRole('heading', { level: 1, name: 'Publish a session' })).toBeVisible();
  await expectNoAxeViolations(page);
  await page.getByLabel("Clinician's name").fill(clinician());
  await page.getByLabel('Type of clinician').selectOption('gp');
  await page.getByLabel('Where', { exact: true }).fill('Room 9');
  const date = page.getByRole('group', { name: 'Date', exact: true });
  const when = daysAhead(5);
  await date.getByLabel('Day').fill(when.day);
  await date.getByLabel('Month').fill(when.month);
  await date.getByLabel('Year').fill(when.year);
  await page.getByLabel('Start time').fill('18:00');
  await page.getByLabel('End time').fill('18:30');
  await page.getByLabel('Length of each appointment, in minutes').fill('10');
  await page.getByLabel('How the appointments happen').selectOption('video');
  await page.getByLabel('Can patients book these online?').selectOption('yes');
  await submitAndWait(page, page.getByRole('button', { name: 'Publish session' }));
  await expect(page).toHaveURL(/\/staff\/appointments\?date=.*created=1/);
  await expect(page.getByText('Session published', { exact: true })).toBeVisible();
  await expect(page.getByRole('heading', { level: 2, name: new RegExp(`${clinician()} \\(GP\\), 18:00 to 18:30`) })).toBeVisible();
  await expectNoAxeViolations(page);

  // The same clinician cannot be in two sessions at once.
  await page.goto('/staff/appointments/new');
  await waitForHydration(page);
  await page.getByLabel("Clinician's name").fill(clinician());
  await page.getByLabel('Type of clinician').selectOption('gp');
  await page.getByLabel('Where', { exact: true }).fill('Room 9');
  await date.getByLabel('Day').fill(when.day);
  await date.getByLabel('Month').fill(when.month);
  await date.getByLabel('Year').fill(when.year);
  await page.getByLabel('Start time').fill('18:20');
  await page.getByLabel('End time').fill('19:00');
  await page.getByLabel('Length of each appointment, in minutes').fill('10');
  await page.getByLabel('How the appointments happen').selectOption('video');
  await submitAndWait(page, page.getByRole('button', { name: 'Publish session' }));
  await expect(page).toHaveURL(/\/staff\/appointments\/new$/);
  await expect(page.getByRole('alert')).toContainText('already has a session from 6pm to 6:30pm');
  await expect(page.getByLabel("Clinician's name")).toHaveValue(clinician());
  await expectNoAxeViolations(page);
}

test('staff publish a session; a patient finds, books, gets the calendar file and cancels', async ({ page }) => {
  test.setTimeout(120_000);
  await signIn(page, accounts.priya);
  await publishSession(page);
  await signOut(page);

  await signIn(page, accounts.sarah);
  await page.goto('/appointments/find');
  await waitForHydration(page);
  await expect(page.getByRole('heading', { level: 1, name: 'Find an appointment' })).toBeVisible();
  await page.getByLabel('How', { exact: true }).selectOption('video');
  await page.getByLabel("Clinician's name (optional)").fill(clinician());
  await submitAndWait(page, page.getByRole('button', { name: 'Show appointments' }));
  const rows = page.getByRole('row').filter({ hasText: clinician() });
  await expect(rows).toHaveCount(3);
  await expect(rows.first()).toContainText('6pm');
  await expectNoAxeViolations(page);

  // A reason over the limit is refused and kept.
  await rows.first().getByRole('link', { name: /^Book/ }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Book an appointment' })).toBeVisible();
  await waitForHydration(page);
  await expectNoAxeViolations(page);
  const long = 'x'.repeat(101);
  await page.getByLabel('Reason for the appointment (optional)').fill(long);
  await submitAndWait(page, page.getByRole('button', { name: 'Continue' }));
  await expectErrorSummary(page, {
    reason: 'The reason must be 100 characters or fewer. You have entered 101. Put more detail in the note',
  });
  await expect(page.getByLabel('Reason for the appointment (optional)')).toHaveValue(long);
  await expectNoAxeViolations(page);

  await page.getByLabel('Reason for the appointment (optional)').fill('Sore throat');
  await submitAndWait(page, page.getByRole('button', { name: 'Continue' }));
  await expect(page.getByRole('heading', { level: 1, name: 'Check your answers before booking' })).toBeVisible();
  await expect(page.getByText('Sore throat')).toBeVisible();
  await expectNoAxeViolations(page);

  const before = await lastEmailNumber();
  await submitAndWait(page, page.getByRole('button', { name: 'Book appointment' }));
  await expect(page).toHaveURL(/\/appointments\/\d+\?booked=1$/);
  await expect(page.getByRole('heading', { level: 1, name: 'Appointment booked' })).toBeVisible();
  await expectNoAxeViolations(page);

  // The confirmation email, with a calendar file and no clinical detail.
  const confirmation = await waitForEmail(accounts.sarah, /Appointment booked/, { after: before });
  expect(confirmation.text).not.toContain('Sore throat');
  const ics = confirmation.attachments.find((a) => a.filename === 'appointment.ics');
  expect(ics, 'an .ics attachment').toBeTruthy();
  expect(ics!.contentType).toBe('text/calendar');
  expect(ics!.content).toContain('BEGIN:VCALENDAR');
  expect(ics!.content).toMatch(/DTSTART:\d{8}T\d{6}Z/);
  expect(ics!.content).not.toContain('Sore throat');

  // The "add to calendar" download gives the same event.
  const href = await page.getByRole('link', { name: /Add to your calendar/ }).getAttribute('href');
  const download = await page.request.get(href!);
  expect(download.status()).toBe(200);
  expect(download.headers()['content-type']).toContain('text/calendar');
  expect(await download.text()).toContain(ics!.content.match(/DTSTART:\S+/)![0]);

  // Cancel from the list.
  await page.goto('/appointments');
  await waitForHydration(page);
  await expectNoAxeViolations(page);
  const mine = page.getByRole('listitem').filter({ hasText: clinician() });
  await mine.getByRole('link', { name: /^Cancel/ }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Cancel your appointment' })).toBeVisible();
  await waitForHydration(page);
  await expectNoAxeViolations(page);
  await page.getByLabel('Why are you cancelling? (optional)').fill('Feeling better');
  const beforeCancel = await lastEmailNumber();
  await submitAndWait(page, page.getByRole('button', { name: 'Cancel appointment' }));
  await expect(page).toHaveURL(/\/appointments\?cancelled=1$/);
  await expect(page.getByText('Your appointment has been cancelled')).toBeVisible();
  await expectNoAxeViolations(page);
  await waitForEmail(accounts.sarah, /Appointment cancelled/, { after: beforeCancel });

  // The slot is free again, and no reminder was sent (it was deleted
  // with the booking: server/tests/integration/appointments.rs checks the
  // outbox row itself).
  await page.goto('/appointments/find');
  await waitForHydration(page);
  await page.getByLabel("Clinician's name (optional)").fill(clinician());
  await submitAndWait(page, page.getByRole('button', { name: 'Show appointments' }));
  await expect(page.getByRole('row').filter({ hasText: clinician() })).toHaveCount(3);
  await expect(
    waitForEmail(accounts.sarah, /Appointment tomorrow/, { after: before, timeoutMs: 2_000 }),
  ).rejects.toThrow();
});

test('with no slots, patients are told to call the practice or use 111 online', async ({ page }) => {
  await signIn(page, accounts.sarah);
  await page.goto('/appointments/find?clinician=Nobody%20Here');
  await waitForHydration(page);
  await expect(
    page.getByText('No appointments available: call the practice, or use 111 online if you need help today'),
  ).toBeVisible();
  await expectNoAxeViolations(page);
});
