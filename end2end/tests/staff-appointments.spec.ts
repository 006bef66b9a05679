import { expect, type Locator, type Page } from '@playwright/test';
import {
  test,
  accounts,
  demoPatient,
  expectErrorSummary,
  expectNoAxeViolations,
  formatNhsNumber,
  isHydrated,
  signIn,
  signOut,
  submitAndWait,
  ukDateParts,
  waitForHydration,
} from './helpers';
import { lastEmailNumber, waitForEmail } from './mail';

// A receptionist's day with one clinician's session (issue 6): publish it,
// block a slot (patients no longer see it) and unblock it, book two
// patients on their behalf by NHS number (bad input first), record
// attendance, then cancel the whole session with a reason, which the
// booked patient gets by email at the real SMTP server. Attendance is
// recorded in yesterday's clinic, which seed-demo made.
//
// The two projects share one server, so each has its own clinician, date
// and second patient. Sarah Jones is the only Riverside patient with both
// an NHS number and an account (an email address), so both projects book
// her; the cancellation at the end frees her again for appointments.spec.ts.
// This session is at 16:00 to 16:30, six or seven days ahead, so it never
// overlaps appointments.spec.ts's (18:00, five days ahead).

function clinician(): string {
  return isHydrated() ? 'Dr Hydra Dayview' : 'Dr Plain Dayview';
}

/**
 * The second patient (no account, so never emailed). seed-demo also booked
 * them into yesterday's clinic (provisioning.rs insert_yesterdays_clinic),
 * where their attendance is recorded.
 */
function attendee() {
  return isHydrated() ? demoPatient('Amelia', 'Davies') : demoPatient('Isla', 'Roberts');
}

/** The attendee's time in yesterday's clinic, and the reason seed-demo gave. */
function yesterdaysBooking(): { time: string; reason: string } {
  return isHydrated() ? { time: '09:00', reason: 'Knee pain' } : { time: '09:10', reason: 'Asthma review' };
}

/** Yesterday's finished clinic on the day view. */
function yesterdaysClinic(page: Page): Locator {
  return page
    .locator('section.nhsuk-card')
    .filter({ has: page.getByRole('heading', { level: 2, name: 'Dr Ruth Ellis (GP), 09:00 to 09:30' }) });
}

/** A UK date some days ahead. */
function daysAhead(days: number): Date {
  return new Date(Date.now() + days * 86_400_000);
}

/** YYYY-MM-DD, as the day view's address has it. */
function isoDate(date: Date): string {
  const { day, month, year } = ukDateParts(date);
  return `${year}-${month.padStart(2, '0')}-${day.padStart(2, '0')}`;
}

/** As the patient's find page writes a date: 10 December 2026. */
function longDate(date: Date): string {
  return new Intl.DateTimeFormat('en-GB', {
    timeZone: 'Europe/London',
    day: 'numeric',
    month: 'long',
    year: 'numeric',
  }).format(date);
}

const HEADING = () => new RegExp(`^${clinician()} \\(GP\\), 16:00 to 16:30$`);

/** This project's session on the day view. */
function sessionCard(page: Page): Locator {
  return page.locator('section.nhsuk-card').filter({ has: page.getByRole('heading', { level: 2, name: HEADING() }) });
}

/** A row of this project's session, by its start time (16:00). */
function slotRow(page: Page, time: string): Locator {
  return sessionCard(page)
    .getByRole('row')
    .filter({ has: page.getByRole('cell', { name: time, exact: true }) });
}

/** The row's Patient cell (second column). */
function patientCell(row: Locator): Locator {
  return row.getByRole('cell').nth(1);
}

/** The row's Reason cell (third column). */
function reasonCell(row: Locator): Locator {
  return row.getByRole('cell').nth(2);
}

async function openDay(page: Page, date: Date): Promise<void> {
  await page.goto(`/staff/appointments?date=${isoDate(date)}`);
  await waitForHydration(page);
  await expect(sessionCard(page)).toBeVisible();
}

async function publishSession(page: Page, date: Date): Promise<void> {
  await page.goto('/staff/appointments/new');
  await waitForHydration(page);
  await expect(page.getByRole('heading', { level: 1, name: 'Publish a session' })).toBeVisible();
  await page.getByLabel("Clinician's name").fill(clinician());
  await page.getByLabel('Type of clinician').selectOption('gp');
  await page.getByLabel('Where', { exact: true }).fill('Room 8');
  const when = ukDateParts(date);
  const group = page.getByRole('group', { name: 'Date', exact: true });
  await group.getByLabel('Day').fill(when.day);
  await group.getByLabel('Month').fill(when.month);
  await group.getByLabel('Year').fill(when.year);
  await page.getByLabel('Start time').fill('16:00');
  await page.getByLabel('End time').fill('16:30');
  await page.getByLabel('Length of each appointment, in minutes').fill('10');
  await page.getByLabel('How the appointments happen').selectOption('phone');
  await page.getByLabel('Can patients book these online?').selectOption('yes');
  await submitAndWait(page, page.getByRole('button', { name: 'Publish session' }));
  await expect(page).toHaveURL(new RegExp(`/staff/appointments\\?date=${isoDate(date)}&created=1$`));
  await expect(page.getByText('Session published', { exact: true })).toBeVisible();
  await expect(sessionCard(page)).toBeVisible();
  for (const time of ['16:00', '16:10', '16:20']) {
    await expect(patientCell(slotRow(page, time))).toHaveText('Free');
  }
  await expectNoAxeViolations(page);
}

/** As Sarah, the find page's slots for this project's clinician: the "When" cells. */
async function expectPatientSees(page: Page, date: Date, times: string[]): Promise<void> {
  await page.goto('/appointments/find');
  await waitForHydration(page);
  await page.getByLabel("Clinician's name (optional)").fill(clinician());
  await submitAndWait(page, page.getByRole('button', { name: 'Show appointments' }));
  const rows = page.getByRole('row').filter({ hasText: clinician() });
  await expect(rows.locator('td:first-child')).toHaveText(times.map((t) => `${longDate(date)} at ${t}`));
  await expectNoAxeViolations(page);
}

/** From the day view, "Book for a patient" on a free slot. */
async function openBooking(page: Page, time: string): Promise<void> {
  await slotRow(page, time).getByRole('link', { name: `Book for a patient at ${time}`, exact: true }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Book for a patient' })).toBeVisible();
  await expect(page).toHaveURL(/\/staff\/appointments\/book\/\d+$/);
  await waitForHydration(page);
}

test('a receptionist blocks and unblocks a slot, books for patients, records attendance and cancels the session', async ({
  page,
}) => {
  test.setTimeout(180_000);
  const date = daysAhead(isHydrated() ? 6 : 7);
  const sarah = demoPatient('Sarah', 'Jones');
  const other = attendee();

  // 1. Publish the session.
  await signIn(page, accounts.priya);
  await publishSession(page, date);

  // 2. Block 16:00: it shows as blocked, with no booking link and an
  // Unblock button instead.
  await submitAndWait(page, slotRow(page, '16:00').getByRole('button', { name: 'Block 16:00', exact: true }));
  await expect(page).toHaveURL(new RegExp(`/staff/appointments\\?date=${isoDate(date)}&slot=block$`));
  await expect(page.getByText('Slot blocked', { exact: true })).toBeVisible();
  await expect(patientCell(slotRow(page, '16:00'))).toHaveText('Blocked');
  await expect(slotRow(page, '16:00').getByRole('link')).toHaveCount(0);
  await expect(slotRow(page, '16:00').getByRole('button', { name: 'Unblock 16:00', exact: true })).toBeVisible();
  await expect(patientCell(slotRow(page, '16:10'))).toHaveText('Free');
  await expectNoAxeViolations(page);
  await signOut(page);

  // A patient filtering on this clinician sees the other two slots only.
  await signIn(page, accounts.sarah);
  await expectPatientSees(page, date, ['4:10pm', '4:20pm']);
  await signOut(page);

  // Unblock it: free again, bookable by staff.
  await signIn(page, accounts.priya);
  await openDay(page, date);
  await submitAndWait(page, slotRow(page, '16:00').getByRole('button', { name: 'Unblock 16:00', exact: true }));
  await expect(page).toHaveURL(/&slot=unblock$/);
  await expect(page.getByText('Slot unblocked', { exact: true })).toBeVisible();
  await expect(patientCell(slotRow(page, '16:00'))).toHaveText('Free');
  await expect(slotRow(page, '16:00').getByRole('link', { name: 'Book for a patient at 16:00', exact: true })).toBeVisible();
  await expectNoAxeViolations(page);

  // 3. Book on Sarah's behalf. Bad input first: an NHS number that fails
  // its check digit (1234567890), then a reason over 100 characters. Each
  // comes back with the error summary and what was typed, and books nothing.
  await openBooking(page, '16:00');
  await expect(page.locator('.nhsuk-summary-list')).toContainText(`${longDate(date)} at 4pm`);
  await expect(page.locator('.nhsuk-summary-list')).toContainText(`${clinician()} (GP)`);
  await expectNoAxeViolations(page);
  const bookingPage = page.url();
  const long = 'y'.repeat(101);
  await page.getByLabel("Patient's NHS number").fill('123 456 7890');
  await page.getByLabel('Reason (optional)').fill(long);
  await submitAndWait(page, page.getByRole('button', { name: 'Book appointment' }));
  await expect(page).toHaveURL(bookingPage);
  // The NHS number is checked first; the reason is checked once it is valid.
  await expectErrorSummary(page, { nhs_number: 'NHS number is not valid. Check it and try again' });
  await expect(page.getByLabel("Patient's NHS number")).toHaveValue('123 456 7890');
  await expect(page.getByLabel('Reason (optional)')).toHaveValue(long);
  await expectNoAxeViolations(page);

  await page.getByLabel("Patient's NHS number").fill(formatNhsNumber(sarah.nhsNumber!));
  await submitAndWait(page, page.getByRole('button', { name: 'Book appointment' }));
  await expect(page).toHaveURL(bookingPage);
  // This form has no note field, so the message does not point to one.
  await expectErrorSummary(page, {
    reason: 'The reason must be 100 characters or fewer. You have entered 101',
  });
  await expect(page.getByLabel("Patient's NHS number")).toHaveValue(formatNhsNumber(sarah.nhsNumber!));
  await expect(page.getByLabel('Reason (optional)')).toHaveValue(long);
  await expectNoAxeViolations(page);

  // Nothing was booked.
  await openDay(page, date);
  await expect(patientCell(slotRow(page, '16:00'))).toHaveText('Free');

  // Now a good booking, with the confirmation email.
  await openBooking(page, '16:00');
  const reason = isHydrated() ? 'Blood pressure review' : 'Medication review';
  await page.getByLabel("Patient's NHS number").fill(formatNhsNumber(sarah.nhsNumber!));
  await page.getByLabel('Reason (optional)').fill(reason);
  const beforeBooking = await lastEmailNumber();
  await submitAndWait(page, page.getByRole('button', { name: 'Book appointment' }));
  await expect(page).toHaveURL(new RegExp(`/staff/appointments\\?date=${isoDate(date)}&booked=1$`));
  await expect(page.getByText('Appointment booked', { exact: true })).toBeVisible();
  await expect(patientCell(slotRow(page, '16:00'))).toHaveText('Sarah Jones (Booked)');
  await expect(reasonCell(slotRow(page, '16:00'))).toHaveText(reason);
  await expectNoAxeViolations(page);
  const booked = await waitForEmail(accounts.sarah, /Appointment booked/, { after: beforeBooking });
  expect(booked.text).not.toContain(reason);

  // A second patient, with no reason (it is optional).
  await openBooking(page, '16:10');
  await page.getByLabel("Patient's NHS number").fill(other.nhsNumber!);
  await submitAndWait(page, page.getByRole('button', { name: 'Book appointment' }));
  await expect(page.getByText('Appointment booked', { exact: true })).toBeVisible();
  const otherName = `${other.givenName} ${other.familyName}`;
  await expect(patientCell(slotRow(page, '16:10'))).toHaveText(`${otherName} (Booked)`);
  await expect(reasonCell(slotRow(page, '16:10'))).toHaveText('');

  // 4. Attendance. Nobody has come to or missed an appointment days ahead,
  // so the day view offers neither button for these (Attendance::may_record;
  // a request made anyway is refused, server/tests/integration/appointments.rs).
  for (const time of ['16:00', '16:10']) {
    await expect(slotRow(page, time).getByRole('button', { name: /attend/i })).toHaveCount(0);
  }
  // Yesterday's clinic offers both, and a mark can be changed.
  const yesterday = isoDate(daysAhead(-1));
  await page.goto(`/staff/appointments?date=${yesterday}`);
  await waitForHydration(page);
  const seen = yesterdaysBooking();
  const row = yesterdaysClinic(page)
    .getByRole('row')
    .filter({ has: page.getByRole('cell', { name: seen.time, exact: true }) });
  await expect(patientCell(row)).toHaveText(`${otherName} (Booked)`);
  await expect(reasonCell(row)).toHaveText(seen.reason);
  await expectNoAxeViolations(page);
  await submitAndWait(page, row.getByRole('button', { name: `Attended at ${seen.time}`, exact: true }));
  await expect(page).toHaveURL(new RegExp(`/staff/appointments\\?date=${yesterday}&marked=1$`));
  await expect(page.getByText('Attendance recorded', { exact: true })).toBeVisible();
  await expect(patientCell(row)).toHaveText(`${otherName} (Attended)`);
  await expectNoAxeViolations(page);
  await submitAndWait(page, row.getByRole('button', { name: `Did not attend at ${seen.time}`, exact: true }));
  await expect(page.getByText('Attendance recorded', { exact: true })).toBeVisible();
  await expect(patientCell(row)).toHaveText(`${otherName} (Did not attend)`);

  // Back to this project's session: both bookings are untouched.
  await openDay(page, date);
  await expect(patientCell(slotRow(page, '16:00'))).toHaveText('Sarah Jones (Booked)');
  await expect(patientCell(slotRow(page, '16:10'))).toHaveText(`${otherName} (Booked)`);

  // 5. Cancel the whole session. With no reason it is refused: patients are
  // told the reason by email.
  const card = sessionCard(page);
  const reasonBox = card.getByLabel('Reason for cancelling this session');
  const reasonId = await reasonBox.getAttribute('id');
  expect(reasonId).toMatch(/^reason-\d+$/);
  await submitAndWait(page, card.getByRole('button', { name: 'Cancel session' }));
  const summary = page.getByRole('alert').filter({ has: page.getByRole('heading', { name: 'There is a problem' }) });
  const refusal = 'Enter the reason for cancelling the session. Patients are told it by email';
  await expect(summary.getByRole('link', { name: refusal, exact: true })).toHaveAttribute('href', `#${reasonId}`);
  await expect(page.locator(`#${reasonId}-error`)).toHaveText(`Error: ${refusal}`);
  await expect(card.locator('strong.nhsuk-tag')).toHaveCount(0);
  await expectNoAxeViolations(page);

  const why = `${clinician()} is off sick`;
  await sessionCard(page).getByLabel('Reason for cancelling this session').fill(why);
  const beforeCancel = await lastEmailNumber();
  await submitAndWait(page, sessionCard(page).getByRole('button', { name: 'Cancel session' }));
  await expect(page).toHaveURL(new RegExp(`/staff/appointments\\?date=${isoDate(date)}&session_cancelled=1$`));
  // Both were booked; only Sarah has an email address.
  await expect(page.getByText('Session cancelled. 1 patient was emailed', { exact: true })).toBeVisible();
  await expect(sessionCard(page).locator('strong.nhsuk-tag')).toHaveText('Cancelled');
  await expect(sessionCard(page).getByRole('button', { name: 'Cancel session' })).toHaveCount(0);
  await expect(patientCell(slotRow(page, '16:00'))).toHaveText('Cancelled');
  await expect(patientCell(slotRow(page, '16:20'))).toHaveText('Cancelled');
  await expect(sessionCard(page).getByRole('button', { name: /^(Block|Unblock) / })).toHaveCount(0);
  await expect(sessionCard(page).getByRole('link', { name: /^Book for a patient/ })).toHaveCount(0);
  await expect(patientCell(slotRow(page, '16:10'))).toHaveText('Cancelled');
  await expectNoAxeViolations(page);

  const cancelled = await waitForEmail(accounts.sarah, /^Appointment cancelled/, { after: beforeCancel });
  expect(cancelled.text).toContain(`The practice said: ${why}`);
  expect(cancelled.html).toContain(`The practice said: ${why}`);
  expect(cancelled.text).not.toContain(reason);

  // The patient's own list shows it cancelled, and her slots are gone from the find page.
  await signOut(page);
  await signIn(page, accounts.sarah);
  await page.goto('/appointments');
  await waitForHydration(page);
  const mine = page.getByRole('listitem').filter({ hasText: clinician() });
  await expect(mine).toHaveCount(1);
  await expect(mine.locator('strong.nhsuk-tag')).toHaveText('Cancelled');
  await expectNoAxeViolations(page);
  await page.goto(`/appointments/find?clinician=${encodeURIComponent(clinician())}`);
  await waitForHydration(page);
  await expect(page.locator('#no-appointments')).toBeVisible();
});
