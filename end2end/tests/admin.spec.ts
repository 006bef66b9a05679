import { expect } from '@playwright/test';
import { test, accounts, expectNoAxeViolations, signIn } from './helpers';

test.describe('The system administrator', () => {
  test('signs in and sees the practices', async ({ page }) => {
    // Given the system administrator
    // When they sign in
    await signIn(page, accounts.admin);

    // Then they land on the practices page
    await expect(page).toHaveURL(/\/admin$/);
    await expect(page.getByRole('heading', { level: 1, name: 'Practices' })).toBeVisible();

    // And both demo practices are listed
    const table = page.getByRole('main').getByRole('table');
    await expect(table.getByRole('row').filter({ hasText: 'Riverside Surgery' })).toHaveCount(1);
    await expect(table.getByRole('row').filter({ hasText: 'Hillside Medical Centre' })).toHaveCount(1);
    await expectNoAxeViolations(page);
  });
});
