import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { ConveyorClient } from '../e2e/client.js';
import { createTokenKit, type TokenKit } from '../hostile/tokens.js';
import { makeStart, type MadeStack } from '../support/make-start.js';
import { launchBrowser, openPage, type PageProblems } from './browser.js';

export const DEMO = { email: 'demo@example.com', password: 'demo-password' };
export const ADMIN = { email: 'admin@example.com', password: 'admin-password' };
const TIMEOUT = 30_000;

export interface ConsoleHarness {
  gatewayUrl: () => string;
  /** The demo user's API client, to set the scene as a script would. */
  api: () => ConveyorClient;
  newPage: (options?: { width?: number; dark?: boolean }) => Promise<Page>;
  logIn: (page: Page, who?: { email: string; password: string }) => Promise<void>;
  /** Logs in with an access token of another tenant, `evil`, as its identity provider would issue it (jobs:read jobs:write unless given; `expiresIn` as jose reads it). */
  logInAsOtherTenant: (page: Page, scope?: string, expiresIn?: string) => Promise<void>;
  submitThroughApi: (body: unknown) => Promise<string>;
}

/**
 * The stack `make start` brings up (on its own ports, database and namespace) and a browser, for
 * one test file; every page is watched for script errors and CSP refusals, checked after each test.
 */
export function useConsoleHarness(prefix: string): ConsoleHarness {
  let stack: MadeStack;
  let browser: Browser;
  let tokens: TokenKit;
  let api: ConveyorClient;
  const contexts: BrowserContext[] = [];
  const problems: PageProblems = { errors: [] };

  beforeAll(async () => {
    tokens = await createTokenKit();
    [stack, browser] = await Promise.all([
      makeStart(prefix, {
        // Tokens for a second tenant are signed with the gateway's own key, as an identity provider's would be.
        JWT_DEV_SIGNING_KEY: tokens.signingKeyPem,
        // The page polls and streams; the limiter has its own tests.
        RATE_LIMIT_BURST: '1000',
        RATE_LIMIT_SUSTAINED_PER_MINUTE: '100000',
        RETRY_BACKOFF_BASE_SECONDS: '1',
        RETRY_BACKOFF_MAX_SECONDS: '1',
      }),
      launchBrowser(),
    ]);
    const login = await fetch(`${stack.gatewayUrl}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(DEMO),
    });
    api = new ConveyorClient(stack.gatewayUrl, ((await login.json()) as { accessToken: string }).accessToken);
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  }, 120_000);

  afterEach(async () => {
    await Promise.all(contexts.splice(0).map((c) => c.close()));
    // Every page of every test: no script error, nothing refused by the Content-Security-Policy.
    expect(problems.errors.splice(0)).toEqual([]);
  });

  return {
    gatewayUrl: () => stack.gatewayUrl,
    api: () => api,
    newPage: async (options = {}) => {
      const context = await browser.newContext({
        viewport: { width: options.width ?? 1280, height: 860 },
        colorScheme: options.dark ? 'dark' : 'light',
        locale: 'en-GB',
        timezoneId: 'UTC',
      });
      contexts.push(context);
      const page = await openPage(context, problems);
      page.setDefaultTimeout(TIMEOUT);
      return page;
    },
    logIn: async (page, who = DEMO) => {
      await page.goto(`${stack.gatewayUrl}/console/`);
      await page.getByLabel('Email').fill(who.email);
      await page.getByLabel('Password').fill(who.password);
      await page.getByRole('button', { name: 'Log in', exact: true }).click();
      await page.getByRole('heading', { level: 1, name: 'Jobs' }).waitFor();
    },
    logInAsOtherTenant: async (page, scope = 'jobs:read jobs:write', expiresIn?: string) => {
      await page.goto(`${stack.gatewayUrl}/console/`);
      await page.getByText('Use an access token from your identity provider').click();
      await page.getByLabel('Access token').fill(await tokens.valid({ sub: 'eve', tenant: 'evil', scope }, expiresIn));
      await page.getByRole('button', { name: 'Log in with this token' }).click();
      await page.getByRole('heading', { level: 1, name: 'Jobs' }).waitFor();
    },
    submitThroughApi: async (body) => {
      const { res, body: accepted } = await api.submit(body);
      expect(res.status).toBe(202);
      return String(accepted.jobId);
    },
  };
}
