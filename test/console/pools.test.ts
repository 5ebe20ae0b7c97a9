import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { screenshot } from './browser.js';
import { ADMIN, DEMO, useConsoleHarness } from './harness.js';

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

  it("shows an admin a pool's last hour, which the api reads from the Prometheus `make start` runs", async () => {
    const tokenOf = async (who: { email: string; password: string }) => {
      const res = await fetch(`${gatewayUrl()}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(who) });
      return ((await res.json()) as { accessToken: string }).accessToken;
    };
    const history = async (token: string, query = '') => {
      const res = await fetch(`${gatewayUrl()}/pools/default/history${query}`, { headers: { authorization: `Bearer ${token}` } });
      return { status: res.status, body: (await res.json()) as { stepSeconds?: number; points?: Array<{ waiting: number | null; donePerSecond: number | null }> } };
    };
    const admin = await tokenOf(ADMIN);
    const ids = await Promise.all(Array.from({ length: 20 }, () => submitThroughApi({ type: 'noop', payload: {} })));
    for (const id of ids) expect((await api().waitForFinish(id, 60_000)).status).toBe('success');

    // Points come at 30 s steps once Prometheus (scraping every 5 s) has seen the workers finish them.
    const deadline = Date.now() + 90_000;
    let seen = await history(admin);
    while (!seen.body.points?.some((p) => (p.donePerSecond ?? 0) > 0) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 3_000));
      seen = await history(admin);
    }
    expect(seen.status, JSON.stringify(seen.body)).toBe(200);
    expect(seen.body.stepSeconds).toBe(30);
    expect(seen.body.points!.some((p) => (p.donePerSecond ?? 0) > 0), 'the finished noop jobs show as throughput').toBe(true);
    expect(seen.body.points!.some((p) => p.waiting !== null), 'the queue depth the workers export').toBe(true);
    // It spans tenants: a tenant is refused, and a bad window is the client's error.
    expect((await history(await tokenOf(DEMO))).status).toBe(403);
    expect((await history(admin, '?minutes=1')).status).toBe(400);

    const page = await newPage();
    await logIn(page, ADMIN);
    await openPools(page);
    const chart = card(page, 'default').locator('figure.chart svg');
    await chart.waitFor();
    expect(await chart.getAttribute('aria-label')).toMatch(/^Pool default\. Over the last hour: waiting jobs up to \d+, .*done per second up to [\d.]*[1-9]/);
    expect(await chart.locator('path.chart-rate').getAttribute('d')).toMatch(/^M[\d.]+,[\d.]+( [ML][\d.]+,[\d.]+)*$/);
    await screenshot(page, 'pools-history');
  }, 180_000);

  it('shows a tenant who opens the page the pools without the pause buttons', async () => {
    const page = await newPage();
    await logIn(page);
    expect(await page.getByRole('link', { name: 'Pools', exact: true }).count(), 'no Pools link for a tenant').toBe(0);
    await page.goto(`${gatewayUrl()}/console/pools`);
    await page.getByRole('heading', { level: 1, name: 'Pools' }).waitFor();
    await card(page, 'default').locator('.badge', { hasText: 'running' }).waitFor();
    expect(await page.getByRole('button', { name: /^(Pause|Resume)$/ }).count()).toBe(0);
    await card(page, 'default').getByText("The last hour's chart spans every tenant").waitFor();
    expect(await page.locator('figure.chart').count(), 'no cross-tenant history for a tenant').toBe(0);
  });
});
