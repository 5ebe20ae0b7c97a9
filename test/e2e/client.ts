/** A client of the public API, as a user would write one from docs/design.md and the OpenAPI document. */
export class ConveyorClient {
  constructor(
    readonly baseUrl: string,
    private readonly token: string,
  ) {}

  request(path: string, init: RequestInit = {}): Promise<Response> {
    return fetch(`${this.baseUrl}${path}`, {
      ...init,
      redirect: 'manual',
      headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/json', ...init.headers },
    });
  }

  async submit(body: unknown, path = '/jobs', headers: Record<string, string> = {}) {
    const res = await this.request(path, { method: 'POST', body: JSON.stringify(body), headers });
    return { res, body: (await res.json()) as Record<string, unknown> };
  }

  async job(jobId: string) {
    const res = await this.request(`/jobs/${jobId}`);
    return { res, body: (await res.json()) as Record<string, unknown> };
  }

  /** Polls GET /jobs/{id} as seed 003's client does, until the job has finished. */
  async waitForFinish(jobId: string, timeoutMs = 60_000): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    let last: Record<string, unknown> = {};
    while (Date.now() < deadline) {
      const { res, body } = await this.job(jobId);
      if (res.status === 200) return body;
      if (res.status !== 202) throw new Error(`GET /jobs/${jobId} answered ${res.status}: ${JSON.stringify(body)}`);
      last = body;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`job ${jobId} did not finish in ${timeoutMs} ms; last: ${JSON.stringify(last)}`);
  }
}
