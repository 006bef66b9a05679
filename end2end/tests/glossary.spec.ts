import { expect, type Page } from '@playwright/test';
import { test, expectNoAxeViolations, waitForHydration } from './helpers';

// "Medical words explained" (/glossary): anyone, signed in or not, searches
// for a word from their record, browses the A to Z and opens an entry.

async function openGlossary(page: Page, path = '/glossary'): Promise<void> {
  await page.goto(path);
  await waitForHydration(page);
  await expect(page.getByRole('heading', { level: 1, name: 'Medical words explained' })).toBeVisible();
}

/** Types into the search box and sends it (a GET form, with or without JavaScript). */
async function searchFor(page: Page, words: string): Promise<void> {
  await page.getByLabel('Search for a word or short form').fill(words);
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  await expect(page).toHaveURL(new RegExp(`/glossary\\?q=${encodeURIComponent(words).replace(/%20/g, '\\+')}$`));
  await waitForHydration(page);
}

test.describe('Medical words explained', () => {
  test('someone searches for HbA1c and opens its entry', async ({ page }) => {
    // Given someone on the start page, not signed in
    await page.goto('/');
    await waitForHydration(page);

    // When they follow "Medical words explained" in the footer
    await page.getByRole('contentinfo').getByRole('link', { name: 'Medical words explained' }).click();

    // Then they see the glossary, with a search box and the A to Z
    await expect(page).toHaveURL(/\/glossary$/);
    await expect(page.getByRole('heading', { level: 1, name: 'Medical words explained' })).toBeVisible();
    await expect(page).toHaveTitle(/^Medical words explained/);
    await expectNoAxeViolations(page);

    // When they search for HbA1c
    await searchFor(page, 'HbA1c');

    // Then the best match comes first, and the box keeps what they typed
    const results = page.locator('.portal-glossary-results');
    await expect(page.getByRole('heading', { level: 2, name: /match(es)? “HbA1c”$/ })).toBeVisible();
    await expect(results.getByRole('listitem').first()).toContainText('average blood sugar');
    await expect(page.getByLabel('Search for a word or short form')).toHaveValue('HbA1c');
    await expect(page).toHaveTitle(/^Search results - Medical words explained/);
    await expectNoAxeViolations(page);

    // When they open the result
    await results.getByRole('link', { name: 'HbA1c', exact: true }).click();

    // Then the page goes to its entry, which says where to check it
    await expect(page).toHaveURL(/\/glossary\?q=HbA1c#hba1c$/);
    const entry = page.locator('dt#hba1c');
    await expect(entry).toBeInViewport();
    await expect(entry).toHaveText('HbA1c');
    const explanation = page.locator('dt#hba1c + dd');
    await expect(explanation).toContainText('average blood sugar over the last 2 to 3 months');
    await expect(explanation).toContainText('Where to check this: Lab Tests Online UK: HbA1c');
  });

  test('a search that finds nothing says what to try', async ({ page }) => {
    // Given someone on the glossary
    await openGlossary(page);

    // When they search for something that is not there
    await searchFor(page, 'zzqxj');

    // Then they are told so, with what to try next, and keep what they typed
    await expect(page.getByRole('heading', { level: 2, name: 'No terms match “zzqxj”' })).toBeVisible();
    await expect(page.getByRole('main')).toContainText('check the spelling');
    await expect(page.getByRole('main')).toContainText('ask your GP practice what it means');
    await expect(page.getByLabel('Search for a word or short form')).toHaveValue('zzqxj');
    await expectNoAxeViolations(page);
  });

  test('an empty search asks for a word', async ({ page }) => {
    // Given someone on the glossary
    await openGlossary(page);

    // When they press Search with nothing typed
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await expect(page).toHaveURL(/\/glossary\?q=$/);
    await waitForHydration(page);

    // Then the box says what to do
    await expect(page.locator('#q-error')).toHaveText(
      'Error: Enter a word or short form to search for, as it is written in your record',
    );
    await expect(page).toHaveTitle(/^Error: Medical words explained/);
    await expectNoAxeViolations(page);
  });

  test('someone follows a letter of the A to Z', async ({ page }) => {
    // Given someone on the glossary
    await openGlossary(page);
    const letters = page.getByRole('navigation', { name: 'Medical words, A to Z' });

    // Then each letter with terms is a link big enough to tap, and a
    // letter without any is not a link
    const w = letters.getByRole('link', { name: 'W', exact: true });
    const box = await w.boundingBox();
    expect(box?.width).toBeGreaterThanOrEqual(24);
    expect(box?.height).toBeGreaterThanOrEqual(24);
    await expect(letters.getByRole('link', { name: /^J/ })).toHaveCount(0);
    await expect(letters).toContainText('J');

    // When they choose W
    await w.click();

    // Then the page goes to the W terms
    await expect(page).toHaveURL(/\/glossary#letter-w$/);
    await expect(page.getByRole('heading', { level: 3, name: 'W', exact: true })).toBeInViewport();
    await expect(page.locator('dt#warfarin')).toBeVisible();

    // And "Back to the A to Z" brings them back to the letters
    await page.locator('#letter-w ~ .portal-glossary__back').getByRole('link').click();
    await expect(page).toHaveURL(/\/glossary#glossary-a-z$/);
    await expect(letters).toBeInViewport();
    await expectNoAxeViolations(page);
  });

  test('a link to an entry opens the glossary at that entry', async ({ page }) => {
    // Given a link to the entry for "b.d." (as record pages make)
    // When someone opens it
    await openGlossary(page, '/glossary#b-d');

    // Then they see that entry, with its other spellings and its source
    const entry = page.locator('dt#b-d');
    await expect(entry).toBeInViewport();
    await expect(entry).toHaveText('b.d.');
    const explanation = page.locator('dt#b-d + dd');
    await expect(explanation).toContainText('Twice a day');
    await expect(explanation).toContainText('Also written as: bd, b.d, BID, b.i.d.');
    await expect(explanation).toContainText('Where to check this: NICE BNF');
  });
});
