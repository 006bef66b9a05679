import { expect, type Browser, type Page } from '@playwright/test';
import { test, accounts, expectNoAxeViolations, isHydrated, signIn, waitForHydration } from './helpers';

/**
 * Sarah's "phone": a second browser with a phone's User-Agent, so the list
 * can tell it from this one (headless Chromium on Linux). Each project has
 * its own phone: the two projects share one server, and a session left by
 * one must not be mistaken for the other's.
 */
const PHONES = {
  hydrated: {
    userAgent:
      'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1',
    name: 'Safari on iPhone',
  },
  'no-js': {
    userAgent:
      'Mozilla/5.0 (Linux; Android 13; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/24.0 Chrome/117.0.0.0 Mobile Safari/537.36',
    name: 'Samsung Internet on Android',
  },
} as const;

interface Phone {
  page: Page;
  name: string;
  close(): Promise<void>;
}

/** Opens the phone: its own cookies, JavaScript as this project has it. */
async function openPhone(browser: Browser): Promise<Phone> {
  const phone = isHydrated() ? PHONES.hydrated : PHONES['no-js'];
  const context = await browser.newContext({
    baseURL: test.info().project.use.baseURL,
    javaScriptEnabled: isHydrated(),
    locale: 'en-GB',
    timezoneId: 'Europe/London',
    userAgent: phone.userAgent,
  });
  return { page: await context.newPage(), name: phone.name, close: () => context.close() };
}

async function openYourDevices(page: Page): Promise<void> {
  await page.goto('/account');
  await page.getByRole('link', { name: 'Your devices' }).click();
  await expect(page).toHaveURL(/\/account\/devices$/);
  await expect(page.getByRole('heading', { level: 1, name: 'Your devices' })).toBeVisible();
  await waitForHydration(page);
}

test.describe('Your devices', () => {
  test('a patient signs out another device', async ({ page, browser }) => {
    // Given Sarah is signed in on her phone and on this computer
    const phone = await openPhone(browser);
    await signIn(phone.page, accounts.sarah);
    await signIn(page, accounts.sarah);

    // When she opens "Your devices" from her account page
    await openYourDevices(page);

    // Then this computer is listed, marked as this device, and so is her phone
    const cards = page.locator('.nhsuk-card');
    const thisDevice = cards.filter({ hasText: 'This device' });
    await expect(thisDevice).toHaveCount(1);
    await expect(thisDevice.getByRole('heading', { level: 2 })).toContainText('Chrome on Linux');
    await expect(thisDevice.getByRole('button')).toHaveCount(0);
    const phoneCard = cards.filter({ has: page.getByRole('heading', { level: 2, name: phone.name }) });
    await expect(phoneCard).toHaveCount(1);
    await expect(phoneCard).toContainText('Signed in');
    await expect(phoneCard).toContainText('Last active');
    await expectNoAxeViolations(page);

    // When she signs her phone out
    await phoneCard.getByRole('button', { name: new RegExp(`^Sign out of ${phone.name}`) }).click();

    // Then she is told so, and the phone is no longer listed
    await expect(page).toHaveURL(/\/account\/devices$/);
    await expect(page.getByText(`You signed out of ${phone.name}`)).toBeVisible();
    await expect(cards.filter({ has: page.getByRole('heading', { level: 2, name: phone.name }) })).toHaveCount(0);
    await expectNoAxeViolations(page);

    // And the phone is signed out the next time it is used
    await phone.page.goto('/account/devices');
    await expect(phone.page).toHaveURL(/\/sign-in$/);
    await phone.close();

    // And this computer is still signed in
    await page.reload();
    await expect(page.getByRole('heading', { level: 1, name: 'Your devices' })).toBeVisible();
    await expect(page.getByText(`You signed out of ${phone.name}`)).toHaveCount(0);
  });

  test('a patient signs out everywhere', async ({ page, browser }) => {
    // Given Sarah is signed in on her phone and on this computer
    const phone = await openPhone(browser);
    await signIn(phone.page, accounts.sarah);
    await signIn(page, accounts.sarah);
    await openYourDevices(page);

    // When she signs out everywhere
    await page.getByRole('button', { name: 'Sign out everywhere' }).click();

    // Then she is told she has been signed out on every device
    await expect(page).toHaveURL(/\/signed-out\?reason=everywhere$/);
    await expect(page.getByRole('heading', { level: 1, name: 'You have been signed out' })).toBeVisible();
    await expect(page.getByText('on every device, including this one')).toBeVisible();
    await expect(page.getByRole('banner').getByRole('button', { name: 'Sign out' })).toHaveCount(0);
    await expectNoAxeViolations(page);

    // And neither this computer nor the phone is signed in any more
    await page.goto('/account/devices');
    await expect(page).toHaveURL(/\/sign-in$/);
    await phone.page.goto('/account/devices');
    await expect(phone.page).toHaveURL(/\/sign-in$/);
    await phone.close();
  });
});
