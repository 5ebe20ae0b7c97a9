import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { screenshot } from './browser.js';
import { ADMIN, useConsoleHarness } from './harness.js';

/**
 * The Pools page in a real browser against the stack `make start` brings up: an operator pauses a
 * pool, a job submitted meanwhile waits with reason `pool_paused`, and after the resume it runs.
 */
describe('pausing and resuming a pool in the console', () => {
  const { gatewayUrl, api, newPage, logIn, submitThroughApi } = useConsoleHarness('console-pools');

  const card = (page: Page, name: string) => page.locator('section.pool', { has: page.getByRole('heading', { level: 2, name, exact: true }) });
  const openPools = async (page: Page) => {
    await page.getByRole('link', { name: 'Pools', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'Pools' }).waitFor();
  };

  it('lets an admin pause the reports pool with a reason, holds a job submitted meanwhile, and resumes it', async () => {
    const page = await newPage();
    await logIn(page, ADMIN);
    await openPools(page);
    const reports = card(page, 'reports');
    await reports.locator('.badge', { hasText: 'running' }).waitFor();

    await reports.getByRole('button', { name: 'Pause', exact: true }).click();
    await reports.getByLabel('Reason (optional)').fill('browser test maintenance');
    await reports.getByRole('button', { name: 'Pause pool' }).click();
    await page.getByText('Pool reports paused: its jobs are accepted and wait.').waitFor();
    await reports.locator('.badge', { hasText: 'paused' }).waitFor();
    await reports.getByText(/Paused .* by user-admin: browser test maintenance/).waitFor();

    const jobId = await submitThroughApi({ type: 'report.generate', payload: {} });
    // Long enough for a worker that had not paused to have started it.
    await new Promise((r) => setTimeout(r, 4_000));
    const waiting = await api().job(jobId);
    expect(waiting.res.status).toBe(202);
    expect(waiting.body).toMatchObject({ phase: 'queued', attempts: 0, waitingReason: 'pool_paused' });
    await page.getByRole('button', { name: 'Refresh' }).click();
    await reports.locator('.stat', { hasText: 'Waiting' }).locator('dd', { hasText: /^[1-9]/ }).waitFor();
    await screenshot(page, 'pools-paused');

    await reports.getByRole('button', { name: 'Resume', exact: true }).click();
    await page.getByText('Pool reports resumed: its jobs run again.').waitFor();
    await reports.locator('.badge', { hasText: 'running' }).waitFor();
    expect((await api().waitForFinish(jobId, 60_000)).status).toBe('success');
    await page.getByRole('button', { name: 'Refresh' }).click();
    await reports.locator('.stat', { hasText: 'Waiting' }).locator('dd', { hasText: /^0$/ }).waitFor();
    expect(await reports.locator('.notice-warn').count(), 'no pause notice once resumed').toBe(0);
    await screenshot(page, 'pools');
  });

  it('shows a tenant who opens the page the pools without the pause buttons', async () => {
    const page = await newPage();
    await logIn(page);
    expect(await page.getByRole('link', { name: 'Pools', exact: true }).count(), 'no Pools link for a tenant').toBe(0);
    await page.goto(`${gatewayUrl()}/console/pools`);
    await page.getByRole('heading', { level: 1, name: 'Pools' }).waitFor();
    await card(page, 'default').locator('.badge', { hasText: 'running' }).waitFor();
    expect(await page.getByRole('button', { name: /^(Pause|Resume)$/ }).count()).toBe(0);
  });
});
