import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { bridgeIp, clusterRunDir, sh } from './cluster.js';

// A rule of this machine: nothing the cluster runs may reach past it. These tests read the rules as
// the kernel has them (no packet is ever sent off the machine to prove it).
const podCidr = '10.244.0.0/24';
const outside = readFileSync(path.join(clusterRunDir, 'outside-interface'), 'utf8').trim();

const listeners = async (pidFile: string) => {
  const pid = readFileSync(path.join(clusterRunDir, 'pids', pidFile), 'utf8').trim();
  const lines = (await sh('ss', ['-Hltnp'])).split('\n').filter((l) => l.includes(`pid=${pid},`));
  return lines.map((l) => l.trim().split(/\s+/)[3]!.replace(/:\d+$/, ''));
};

describe('the local cluster keeps its traffic on this machine', () => {
  it('drops anything forwarded from the pod range to the outside interface, before any other FORWARD rule', async () => {
    const rules = (await sh('iptables', ['-S', 'FORWARD'])).split('\n').filter((l) => l.startsWith('-A FORWARD'));
    expect(rules[0]).toBe(`-A FORWARD -s ${podCidr} -o ${outside} -j DROP`);
    // and nothing rewrites pod traffic to look like the machine's own on its way out
    const nat = await sh('iptables', ['-t', 'nat', '-S', 'POSTROUTING']);
    expect(nat).not.toMatch(new RegExp(`-s ${podCidr.replace(/[./]/g, '\\$&')}.*-o ${outside}.*MASQUERADE`));
  });

  it('holds the service range on a local route, so a ClusterIP no rule matches never follows the default route', async () => {
    const route = await sh('ip', ['route', 'get', '10.96.200.200']);
    expect(route).toMatch(/dev conveyor-svc/);
    expect(route).not.toMatch(new RegExp(`dev ${outside}`));
    expect(await sh('ip', ['route', 'get', '10.244.0.200'])).toMatch(/dev conveyor0/);
  });

  it('binds the API server and the kubelet to loopback and the bridge address only', async () => {
    for (const pidFile of ['kube-apiserver.pid', 'kubelet.pid']) {
      const addresses = await listeners(pidFile);
      expect(addresses.length, pidFile).toBeGreaterThan(0);
      for (const address of addresses) expect(['127.0.0.1', bridgeIp, '[::1]'], `${pidFile} listens on ${address}`).toContain(address);
    }
  });
});
