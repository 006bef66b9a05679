import path from 'node:path';
import { defineConfig, type LaunchOptions } from '@playwright/test';

// End-to-end specs for the portal. Playwright starts a fresh, seeded portal
// (scripts/e2e-server) and runs every spec twice: once with JavaScript (the
// page hydrates) and once without (plain server-rendered forms).
//
// Run from the repo root:
//   PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npx playwright test --config end2end/playwright.config.ts
// Browsers are never downloaded: the system (Debian) chromium is used.

const repoRoot = path.resolve(__dirname, '..');
// E2E_PORT lets two runs share a machine; scripts/e2e-server reads it too.
const port = Number(process.env.E2E_PORT ?? 3100);
const baseURL = `http://127.0.0.1:${port}`;

const launchOptions: LaunchOptions = {
  executablePath: '/usr/bin/chromium',
  args: [
    '--headless=new',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--disable-dev-shm-usage',
  ],
};

export default defineConfig({
  testDir: './tests',
  outputDir: path.join(__dirname, 'test-results'),
  // Two cores: the server and one browser at a time.
  workers: 1,
  fullyParallel: false,
  retries: 0,
  reporter: 'list',
  timeout: 30_000,
  expect: { timeout: 10_000 },
  use: {
    baseURL,
    browserName: 'chromium',
    launchOptions,
    locale: 'en-GB',
    timezoneId: 'Europe/London',
    trace: 'retain-on-failure',
  },
  webServer: {
    command: 'scripts/e2e-server',
    cwd: repoRoot,
    url: `${baseURL}/healthz`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: 'pipe',
    stderr: 'pipe',
  },
  projects: [
    {
      name: 'hydrated',
      use: { javaScriptEnabled: true },
    },
    {
      name: 'no-js',
      use: { javaScriptEnabled: false },
    },
  ],
});
