/**
 * `timeouts:` (waits not tied to one route): the documented defaults, conversion of each
 * key, and refusals located by YAML path (unknown keys, non-durations, zero).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../../src/errors.js';
import { parseConfig } from '../../../src/config/load.js';

const MIN = 'version: 1\nvault: { agent: my-agent }\n';

test('defaults: passthrough 10s/60s/300s, tunnel connect 10s and idle 300s, websocket idle 300s, TLS handshake 10s', () => {
  assert.deepEqual(parseConfig(MIN, 'min.yaml', {}).timeouts, {
    passthrough: { connectMs: 10_000, headersMs: 60_000, idleMs: 300_000 },
    tunnelConnectMs: 10_000,
    tunnelIdleMs: 300_000,
    websocketIdleMs: 300_000,
    tlsHandshakeMs: 10_000,
  });
});

test('every key converts; unset keys keep their default', () => {
  const c = parseConfig(
    `${MIN}timeouts:\n  passthrough: { connect: 2s, idle: 1m }\n  tunnel_connect: 500ms\n  tunnel_idle: 2m\n  websocket_idle: 1h\n  tls_handshake: 3s\n`,
    't.yaml',
    {},
  );
  assert.deepEqual(c.timeouts, {
    passthrough: { connectMs: 2_000, headersMs: 60_000, idleMs: 60_000 },
    tunnelConnectMs: 500,
    tunnelIdleMs: 120_000,
    websocketIdleMs: 3_600_000,
    tlsHandshakeMs: 3_000,
  });
});

function issuesOf(yaml: string): string[] {
  try {
    parseConfig(`${MIN}${yaml}`, 't.yaml', {});
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.issues.map((i) => `${i.path}: ${i.message}`);
  }
  assert.fail('the config was accepted');
}

test('zero, non-durations and unknown keys are load errors naming the YAML path', () => {
  assert.deepEqual(issuesOf('timeouts: { tunnel_idle: 0s }\n'), ['timeouts.tunnel_idle: must be more than 0']);
  const bad = issuesOf('timeouts: { passthrough: { headers: soon } }\n');
  assert.equal(bad.length, 1);
  assert.match(bad[0]!, /^timeouts\.passthrough\.headers: /);
  const unknown = issuesOf('timeouts: { tunnel_idel: 5s }\n');
  assert.equal(unknown.length, 1);
  assert.match(unknown[0]!, /^timeouts/);
});
