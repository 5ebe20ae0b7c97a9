import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { accessibilityCheck, screenshot } from './browser.js';
import { DEMO, useConsoleHarness } from './harness.js';

/**
 * The console in a real browser (Debian's Chromium, driven by Playwright) against the real stack
 * that `make start` brings up: what a person sees and does, through the gateway at /console.
 */

describe('the console in a browser', () => {
  const { gatewayUrl, api, newPage, logIn, logInAsOtherTenant, submitThroughApi } = useConsoleHarness('console');

  const badge = (page: Page) => page.locator('.facts .badge').first();

  it("logs in with the gateway's /auth/login, showing its reason for a wrong password", async () => {
    const page = await newPage();
    await page.goto(`${gatewayUrl()}/console/`);
    await page.getByRole('heading', { name: 'Log in to Conveyor' }).waitFor();
    await screenshot(page, 'login');
    await page.getByLabel('Email').fill(DEMO.email);
    await page.getByLabel('Password').fill('not-the-password');
    await page.getByRole('button', { name: 'Log in', exact: true }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    expect(await alert.textContent()).toMatch(/HTTP 401.*invalid email or password/);
    expect(await alert.textContent()).toMatch(/Request id [0-9a-f-]{36}/);

    await page.getByLabel('Password').fill(DEMO.password);
    await page.getByRole('button', { name: 'Log in', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'Jobs' }).waitFor();
    expect(await page.locator('.who').textContent()).toContain('demo@example.com');
    expect(await page.locator('.who').textContent()).toContain('tenant demo');
    // The token is kept for this tab only, never in a cookie or localStorage.
    expect(await page.evaluate('[document.cookie, localStorage.length, sessionStorage.length]')).toEqual(['', 0, 1]);
  });

  it('submits a job from the form generated from its schema and watches it succeed live', async () => {
    const page = await newPage();
    await logIn(page);
    await page.getByRole('link', { name: 'Submit', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'Submit a job' }).waitFor();
    await page.getByLabel('Job type').selectOption('sleep');
    await page.getByLabel('Ms').fill('2500');
    await screenshot(page, 'submit');
    await page.getByRole('button', { name: 'Submit job' }).click();

    await page.waitForURL(/\/console\/jobs\/[0-9a-f-]{36}$/);
    await page.getByText('Live: following the job’s events').waitFor();
    // The page changes as the job does, without a reload: running first, then success.
    await page.locator('.facts .badge', { hasText: 'processing' }).waitFor();
    await page.locator('.timeline li', { hasText: 'Started' }).waitFor();
    await page.locator('.facts .badge', { hasText: 'success' }).waitFor();
    await page.locator('.timeline li', { hasText: 'Succeeded' }).waitFor();
    await page.getByText('The job has ended: its events are complete').waitFor();
    const titles = await page.locator('.timeline .timeline-title').allTextContents();
    expect(titles[0]).toBe('Submitted');
    expect(titles.at(-1)).toBe('Succeeded');
    expect(titles).toContain('Started');
    await page.getByRole('heading', { name: 'Result' }).waitFor();
    await page.locator('pre.code', { hasText: '"sleptMs": 2500' }).waitFor();
    expect(await page.locator('.attempts-table tbody tr').count()).toBe(1);
    await screenshot(page, 'job');
  });

  it("shows the API's own reason, with its details and request id, when it refuses a job", async () => {
    const page = await newPage();
    await logIn(page);
    await page.goto(`${gatewayUrl()}/console/submit?type=sleep`);
    await page.getByLabel('Edit the payload as JSON').check();
    await page.getByLabel('Payload (JSON)').fill('{"ms": -5}');
    await page.getByRole('button', { name: 'Submit job' }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    const text = (await alert.textContent()) ?? '';
    expect(text).toMatch(/The API refused the job \(HTTP 422\)/);
    expect(text).toContain('payload.ms');
    expect(text).toMatch(/Request id [0-9a-f-]{36}/);
    await screenshot(page, 'submit-refused');
  });

  it('cancels a running sleep job', async () => {
    const jobId = await submitThroughApi({ type: 'sleep', payload: { ms: 60_000 } });
    const page = await newPage();
    await logIn(page);
    await page.goto(`${gatewayUrl()}/console/jobs/${jobId}`);
    await page.locator('.facts .badge', { hasText: 'processing' }).waitFor();
    await page.getByRole('button', { name: 'Cancel job' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    await dialog.getByRole('button', { name: 'Cancel job' }).click();
    await page.locator('.facts .badge', { hasText: 'cancelled' }).waitFor();
    await page.locator('.timeline li', { hasText: 'Cancelled' }).waitFor();
    expect(await badge(page).textContent()).toBe('cancelled');
    expect((await api().job(jobId)).body).toMatchObject({ status: 'cancelled' });
    await screenshot(page, 'job-cancelled');
  });

  it('lists jobs with their status, filters by status, and shows why a job failed', async () => {
    const failed = await submitThroughApi({ type: 'sleep', payload: { ms: 5_000 }, timeoutSeconds: 1, maxAttempts: 2 });
    await api().waitForFinish(failed, 30_000);
    const page = await newPage();
    await logIn(page);
    await page.locator('tbody tr').first().waitFor();
    await page.locator('form.filters select[name="status"]').selectOption('failed');
    // The list reads again under the form (live, or on demand): a refresh between choosing and applying keeps the choice.
    const refreshed = page.waitForResponse((response) => new URL(response.url()).pathname === '/jobs');
    await page.getByRole('button', { name: 'Refresh', exact: true }).click();
    await refreshed;
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.waitForURL(/status=failed/);
    const row = page.locator('tbody tr', { has: page.locator(`a[href="/console/jobs/${failed}"]`) });
    await row.waitFor();
    expect(await row.textContent()).toContain('gave up after 2 attempts: timed out after 1 s');
    const statuses = await page.locator('tbody .badge').allTextContents();
    expect(statuses.length).toBeGreaterThan(0);
    expect(new Set(statuses)).toEqual(new Set(['failed']));

    await row.getByRole('link').click();
    await page.locator('.attempts-table tbody tr').nth(1).waitFor();
    expect(await page.locator('.attempts-table tbody tr').allTextContents()).toEqual([
      expect.stringMatching(/retrying.*timed out after 1 s/),
      expect.stringMatching(/failed.*gave up after 2 attempts/),
    ]);
    await screenshot(page, 'job-failed');
    await page.goto(`${gatewayUrl()}/console/jobs`);
    await page.locator('tbody tr').nth(2).waitFor();
    await page.getByRole('navigation', { name: 'Jobs by status' }).waitFor();
    await screenshot(page, 'jobs');
  });

  it('is usable at 360 px wide and in the dark scheme: nothing wider than the screen', async () => {
    const page = await newPage({ width: 360, dark: true });
    await logIn(page);
    await page.locator('tbody tr').first().waitFor();
    // The counts and the filters the api offers come with its OpenAPI document: the whole page, then measured.
    await page.getByRole('navigation', { name: 'Jobs by status' }).waitFor();
    expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(360);
    expect(await page.evaluate('getComputedStyle(document.body).backgroundColor')).not.toBe('rgb(255, 255, 255)');
    await screenshot(page, 'jobs-360-dark');
    await page.locator('tbody tr a').first().click();
    await page.getByRole('heading', { name: 'Timeline' }).waitFor();
    await page.getByText('The job has ended: its events are complete').waitFor();
    expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(360);
    await screenshot(page, 'job-360-dark');
  });

  it('returns to the login with a message when the token expires or the gateway refuses it', async () => {
    const page = await newPage();
    /** Rewrites the stored session as `change` (an expression of `session`) says. */
    const editSession = (change: string) =>
      page.evaluate(`(() => {
        const key = 'conveyor.console.session';
        const session = JSON.parse(sessionStorage.getItem(key));
        sessionStorage.setItem(key, JSON.stringify(${change}));
      })()`);
    await logIn(page);
    // The token's lifetime ends: the page notices by itself.
    await editSession('{ ...session, expiresAt: Date.now() - 1000 }');
    await page.reload();
    await page.getByRole('heading', { name: 'Log in to Conveyor' }).waitFor();
    expect(await page.getByRole('alert').textContent()).toBe('Your session expired. Log in again to go on.');

    // A token the gateway no longer accepts (here: its signature broken) is answered 401.
    await logIn(page);
    await editSession("{ ...session, token: session.token.slice(0, -4) + 'AAAA' }");
    await page.reload();
    await page.getByRole('heading', { name: 'Log in to Conveyor' }).waitFor();
    expect(await page.getByRole('alert').textContent()).toBe('Your session expired or is no longer valid. Log in again to go on.');
    await screenshot(page, 'login-expired');
    expect(await page.evaluate('sessionStorage.length')).toBe(0);
  });

  it("shows a user of another tenant none of this tenant's jobs", async () => {
    const demoJob = await submitThroughApi({ type: 'noop', payload: {} });
    await api().waitForFinish(demoJob, 30_000);
    const page = await newPage();
    await logInAsOtherTenant(page);
    expect(await page.locator('.who').textContent()).toContain('tenant evil');
    await page.getByText('No jobs match these filters.').waitFor();

    await page.goto(`${gatewayUrl()}/console/jobs/${demoJob}`);
    const alert = page.getByRole('alert').first();
    await alert.waitFor();
    expect(await alert.textContent()).toMatch(/HTTP 404.*job not found/);
    expect(await page.getByRole('heading', { name: 'Summary' }).count()).toBe(0);
    expect(await page.locator('main').textContent()).not.toContain('noop');
  });

  it('can be used with the keyboard alone: skip link first, visible focus, focus moved to each new page', async () => {
    const page = await newPage();
    await logIn(page);
    await page.locator('tbody tr').first().waitFor();
    // What a screen reader names the focused element by: its label, else its text.
    const focused = () => page.evaluate<string | undefined>('(document.activeElement?.labels?.[0] ?? document.activeElement)?.textContent?.trim()');
    await page.keyboard.press('Tab');
    expect(await focused()).toBe('Skip to content');
    expect(await page.evaluate('getComputedStyle(document.activeElement).outlineStyle')).toBe('solid');
    await page.keyboard.press('Enter');
    expect(await page.evaluate('document.activeElement?.id')).toBe('main');
    // Then the page's own controls, in reading order.
    await page.keyboard.press('Tab');
    expect(await page.evaluate("document.activeElement?.closest('label')?.textContent?.trim()")).toBe('Live updates');

    // Following a link moves focus to the new page's heading, which a screen reader announces.
    await page.getByRole('link', { name: 'Submit', exact: true }).focus();
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'Submit a job' }).waitFor();
    expect(await page.evaluate('document.activeElement?.tagName + " " + document.activeElement?.textContent')).toBe('H1 Submit a job');
    expect(await page.title()).toBe('Submit a job · Conveyor');
    await page.keyboard.press('Tab');
    expect(await focused()).toBe('Job type');
  });

  it('passes the WCAG 2.1 AA checks of axe-core on every page, light and dark', async () => {
    const jobId = await submitThroughApi({ type: 'noop', payload: {} });
    await api().waitForFinish(jobId, 30_000);
    for (const dark of [false, true]) {
      const page = await newPage({ dark });
      await page.goto(`${gatewayUrl()}/console/`);
      await page.getByRole('heading', { name: 'Log in to Conveyor' }).waitFor();
      expect((await accessibilityCheck(page)).violations, 'login').toEqual([]);
      await logIn(page);
      for (const [path, ready, rule] of [
        ['/console/jobs', 'tbody tr', 'label'],
        [`/console/jobs/${jobId}`, '.timeline-succeeded', 'definition-list'],
        ['/console/submit?type=report.generate', '#f-payload-format', 'label'],
      ] as const) {
        await page.goto(`${gatewayUrl()}${path}`);
        await page.locator(ready).first().waitFor();
        const checked = await accessibilityCheck(page);
        expect(checked.violations, `${path} (${dark ? 'dark' : 'light'})`).toEqual([]);
        // The rules really ran: labels, names, contrast and the rest passed on this page.
        expect(checked.passed).toEqual(expect.arrayContaining(['color-contrast', 'button-name', 'link-name', rule]));
      }
    }
  });
});
