import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { accessibilityCheck, screenshot } from './browser.js';
import { ADMIN, DEMO, useConsoleHarness } from './harness.js';

/**
 * The Admin page's quotas and pauses in a real browser against the stack `make start` brings up: an
 * operator sets a tenant's limits with the form, sees the usage against them, gets the API's reason
 * for a bad limit, and the limit holds for the tenant's next submit; pauses a tenant, sees its held
 * job and resumes it; a tenant sees none of it.
 */
describe("tenants' quotas on the Admin page", () => {
  const { gatewayUrl, newPage, logIn, submitThroughApi } = useConsoleHarness('console-admin');

  const openAdmin = async (page: Page) => {
    await page.getByRole('link', { name: 'Admin', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'Admin' }).waitFor();
  };
  const quotaForm = (page: Page) => page.locator('form.quota-form');

  it('sets a tenant\'s limits, shows its usage against them, and the next submit over a limit is refused', async () => {
    await Promise.all([submitThroughApi({ type: 'sleep', payload: { ms: 60_000 }, runAt: new Date(Date.now() + 3_600_000).toISOString() }), submitThroughApi({ type: 'sleep', payload: { ms: 60_000 }, runAt: new Date(Date.now() + 3_600_000).toISOString() })]);
    const page = await newPage();
    await logIn(page, ADMIN);
    await openAdmin(page);
    await page.getByRole('heading', { level: 2, name: 'Quotas' }).waitFor();

    // A negative limit: the API's reason, nothing stored.
    const form = quotaForm(page);
    await form.getByLabel('Tenant').fill('demo');
    await form.getByLabel('Waiting at most').fill('-5');
    await form.getByRole('button', { name: 'Save quota' }).click();
    const refused = form.getByRole('alert');
    await refused.waitFor();
    expect(await refused.textContent()).toMatch(/HTTP 422.*maxQueued must be at least 1/);

    await form.getByLabel('Waiting at most').fill('2');
    await form.getByLabel('Running at most').fill('3');
    await form.getByRole('button', { name: 'Save quota' }).click();
    await page.getByText('Quota of demo saved').waitFor();
    const row = page.locator('table.quota-table tbody tr', { has: page.getByRole('rowheader', { name: 'demo', exact: true }) });
    await row.waitFor();
    expect(await row.locator('td').first().textContent()).toMatch(/^2 of 2/);
    expect(await row.locator('td').nth(1).textContent()).toMatch(/^0 of 3/);
    expect(await row.locator('td').nth(2).textContent()).toMatch(/no limit/);
    expect(await row.getByRole('meter').first().getAttribute('aria-label')).toBe('demo: Waiting: 2 of 2');
    await screenshot(page, 'admin-quotas');

    // The limit holds from the next submit: the tenant's two scheduled jobs fill it.
    const login = await fetch(`${gatewayUrl()}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(DEMO) });
    const { accessToken } = (await login.json()) as { accessToken: string };
    const over = await fetch(`${gatewayUrl()}/jobs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'noop', payload: {} }),
    });
    expect(over.status).toBe(429);
    expect(Number(over.headers.get('retry-after'))).toBeGreaterThan(0);

    // Edit fills the form with the tenant's limits; clearing one removes it.
    await row.getByRole('button', { name: 'Edit the quota of demo' }).click();
    await page.getByRole('heading', { level: 3, name: 'Quota of demo' }).waitFor();
    expect(await form.getByLabel('Waiting at most').inputValue()).toBe('2');
    await form.getByLabel('Waiting at most').fill('');
    await form.getByRole('button', { name: 'Save quota' }).click();
    await page.getByText('Quota of demo saved').waitFor();
    await row.locator('td').first().getByText('no limit').waitFor();

    expect((await accessibilityCheck(page)).violations).toEqual([]);
  });

  it('fits 360 px in the dark scheme and passes axe there', async () => {
    const page = await newPage({ width: 360, dark: true });
    await logIn(page, ADMIN);
    await page.goto(`${gatewayUrl()}/console/admin`);
    await page.getByRole('heading', { level: 2, name: 'Quotas' }).waitFor();
    await quotaForm(page).waitFor();
    expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(360);
    expect((await accessibilityCheck(page)).violations).toEqual([]);
    await screenshot(page, 'admin-360-dark');
  });

  it('pauses a tenant with the form: its new job is held, shown with the pause, and runs once after Resume', async () => {
    const page = await newPage();
    await logIn(page, ADMIN);
    await openAdmin(page);
    const form = page.locator('form.pause-form');
    await form.getByLabel('What').selectOption('tenant');
    await form.getByLabel('Name').fill('demo');
    await form.getByLabel('Reason').fill('tenant maintenance');
    await form.getByRole('button', { name: 'Pause' }).click();
    await page.getByText('Tenant demo paused').waitFor();

    const jobId = await submitThroughApi({ type: 'noop', payload: {} });
    const login = await fetch(`${gatewayUrl()}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(DEMO) });
    const { accessToken } = (await login.json()) as { accessToken: string };
    const job = async () => (await (await fetch(`${gatewayUrl()}/jobs/${jobId}`, { headers: { authorization: `Bearer ${accessToken}` } })).json()) as { status: string; waitingReason?: string };
    await expect.poll(async () => (await job()).waitingReason, { timeout: 30_000 }).toBe('tenant_paused');

    // The section reads the pauses when it opens: the tenant with its held job, who paused it and why.
    await page.reload();
    const row = page.locator('table.pause-table tbody tr', { has: page.getByRole('rowheader', { name: 'Tenant demo' }) });
    await row.waitFor();
    expect(await row.locator('td').first().textContent()).toBe('1');
    expect(await row.textContent()).toContain('tenant maintenance');
    await screenshot(page, 'admin-pauses');
    expect((await accessibilityCheck(page)).violations).toEqual([]);

    await row.getByRole('button', { name: 'Resume tenant demo' }).click();
    await page.getByText('Tenant demo resumed: 1 held jobs sent again.').waitFor();
    await page.getByText('Nothing is paused.').waitFor();
    await expect.poll(async () => (await job()).status, { timeout: 30_000 }).toBe('success');
  });

  it('shows a tenant no quotas', async () => {
    const page = await newPage();
    await logIn(page);
    await page.goto(`${gatewayUrl()}/console/admin`);
    await page.getByRole('heading', { level: 1, name: 'Admin' }).waitFor();
    await page.waitForLoadState('networkidle');
    expect(await page.getByRole('heading', { level: 2, name: 'Quotas' }).count()).toBe(0);
    expect(await page.getByRole('heading', { level: 2, name: 'Paused job types and tenants' }).count()).toBe(0);
  });
});
