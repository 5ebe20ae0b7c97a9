import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { accessibilityCheck, screenshot } from './browser.js';
import { useConsoleHarness } from './harness.js';

/**
 * The Schedules page in a real browser against the stack `make start` brings up (schedules kept in
 * Postgres, fired by the scheduler): a tenant creates a schedule, sees it fire, pauses it, triggers
 * it now, resumes and deletes it; another tenant sees none of it, and a reader gets no buttons.
 */
describe('schedules in the console', () => {
  const { gatewayUrl, api, newPage, logIn, logInAsOtherTenant } = useConsoleHarness('console-schedules');

  const card = (page: Page, name: string) => page.locator('section.schedule', { has: page.getByRole('heading', { level: 2, name, exact: true }) });
  const openSchedules = async (page: Page) => {
    await page.getByRole('link', { name: 'Schedules', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'Schedules' }).waitFor();
  };

  it('creates a schedule, sees it fire, pauses it, triggers it now, resumes and deletes it', async () => {
    const page = await newPage();
    await logIn(page);
    await openSchedules(page);
    await page.getByText('No schedules yet.').waitFor();

    const form = page.locator('form.schedule-form');
    // What cannot run is refused with the API's reason.
    await form.getByLabel('Name').fill('browser-tick');
    await form.getByLabel('Cron expression').fill('61 * * * *');
    await form.getByLabel('Job type').fill('noop');
    await form.getByRole('button', { name: 'Create schedule' }).click();
    await page.getByRole('alert').getByText(/schedule/).first().waitFor();
    expect(await page.locator('section.schedule').count()).toBe(0);

    await form.getByLabel('Cron expression').fill('*/2 * * * * *');
    await form.getByRole('button', { name: 'Create schedule' }).click();
    await page.getByText(/Schedule browser-tick created; it next fires/).waitFor();
    const tick = card(page, 'browser-tick');
    await tick.locator('.badge', { hasText: 'active' }).waitFor();
    expect(await tick.locator('time').count()).toBe(5);
    // Fired by the scheduler and run by a worker; the page refreshes by itself.
    await tick.locator('.runs li', { hasText: 'fired' }).locator('.badge', { hasText: 'success' }).first().waitFor({ timeout: 30_000 });

    await tick.getByRole('button', { name: 'Pause', exact: true }).click();
    await page.getByText('Schedule browser-tick paused: it creates no jobs until resumed.').waitFor();
    await tick.locator('.badge', { hasText: 'paused' }).waitFor();
    await tick.getByText('None while paused.').waitFor();

    await tick.getByRole('button', { name: 'Trigger now' }).click();
    await page.getByText(/Schedule browser-tick triggered: job [0-9a-f]{8}… is on its way\./).waitFor();
    await tick.locator('.runs li', { hasText: 'triggered' }).locator('.badge', { hasText: 'success' }).waitFor({ timeout: 30_000 });
    expect((await accessibilityCheck(page)).violations).toEqual([]);
    await screenshot(page, 'schedules');

    // At 360 px, dark, the card and the form fit the screen and stay readable.
    const narrow = await newPage({ width: 360, dark: true });
    await logIn(narrow);
    await narrow.goto(`${gatewayUrl()}/console/schedules`);
    await card(narrow, 'browser-tick').locator('.runs li').first().waitFor();
    expect(await narrow.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(360);
    expect((await accessibilityCheck(narrow)).violations).toEqual([]);
    await screenshot(narrow, 'schedules-360-dark');

    await tick.getByRole('button', { name: 'Resume', exact: true }).click();
    await page.getByText('Schedule browser-tick resumed.').waitFor();
    await tick.locator('.badge', { hasText: 'active' }).waitFor();
    await tick.getByRole('button', { name: 'Delete', exact: true }).click();
    await page.getByRole('button', { name: 'Delete schedule' }).click();
    await page.getByText('Schedule browser-tick deleted; the jobs it created stay.').waitFor();
    await page.getByText('No schedules yet.').waitFor();
  });

  it('shows another tenant none of it, and a reader no buttons', async () => {
    const demoOnly = { name: 'demo-only', schedule: '0 0 1 1 *', jobType: 'noop', suspend: true };
    expect((await api().request('/schedules', { method: 'POST', body: JSON.stringify(demoOnly) })).status).toBe(201);
    const page = await newPage();
    await logInAsOtherTenant(page, 'jobs:read');
    await openSchedules(page);
    await page.getByText('No schedules yet.').waitFor();
    expect(await page.locator('section.schedule').count()).toBe(0);
    expect(await page.locator('main button', { hasText: /Trigger now|Pause|Resume|Delete|Create schedule/ }).count()).toBe(0);
    expect(await page.locator('form.schedule-form').count()).toBe(0);
    expect((await accessibilityCheck(page)).violations).toEqual([]);
    expect((await api().request('/schedules/demo-only', { method: 'DELETE' })).status).toBe(204);
  });
});
