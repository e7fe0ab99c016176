/**
 * Slowloris (issue 8, SECURITY I15): a client that trickles its request head must be
 * cut off by the header timeout, on the listener and inside CONNECT tunnels, so a few
 * sockets cannot hold the connection budget. This file runs its own sidecar with
 * `limits.headers_timeout: 1s`; each case trickles one header line every 200 ms for
 * 4 s and requires the server to close within the timeout plus 1.5 s of slack.
 */
import assert from 'node:assert/strict';
import { registerHostileSuite, req, type CaseContext, type HostileCase } from './hostile-harness.js';
import type { Step } from '../helpers/wire.js';

const HEADERS_TIMEOUT_MS = 1000;
const SLACK_MS = 1500;

function trickle(head: string, lines = 20, everyMs = 200): Step[] {
  const steps: Step[] = [head];
  for (let i = 0; i < lines; i++) steps.push({ pause: everyMs }, `X-Trickle-${i}: a\r\n`);
  return steps;
}

function closedInTime({ conversation }: CaseContext): void {
  assert.ok(conversation.closedByServer, 'the server kept a trickling connection open for 4 s');
  assert.ok(conversation.closedAfterMs! <= HEADERS_TIMEOUT_MS + SLACK_MS, `closed only after ${conversation.closedAfterMs} ms`);
}

const TIMED_OUT = { anyOf: [[{ status: 408 }], []] } as const;
const OPTS = { quietMs: 800, maxMs: 6000 } as const;

const cases: HostileCase[] = [
  {
    id: 'SLOW-01',
    attack: 'slowloris: request head trickled one header line every 200 ms on the proxy listener',
    steps: () => trickle('GET http://api.openai.com/v1/models HTTP/1.1\r\nHost: api.openai.com\r\n'),
    opts: OPTS,
    answers: TIMED_OUT,
    mustClose: true,
    check: closedInTime,
  },
  {
    id: 'SLOW-02',
    attack: 'slowloris: the request line itself trickled byte by byte',
    steps: () => {
      const line = 'GET http://api.openai.com/v1/models HTTP/1.1\r\n';
      const steps: Step[] = [];
      for (let i = 0; i < 20; i++) steps.push(line[i % line.length]!, { pause: 200 });
      return steps;
    },
    opts: OPTS,
    answers: TIMED_OUT,
    mustClose: true,
    check: closedInTime,
  },
  {
    id: 'SLOW-03',
    attack: 'slowloris inside a CONNECT tunnel (plain HTTP to a routed host)',
    steps: () => [
      req('CONNECT api.openai.com:80 HTTP/1.1', 'Host: api.openai.com:80'),
      { until: (c) => c.raw.includes('\r\n\r\n'), timeoutMs: 3000 },
      ...trickle('GET /v1/models HTTP/1.1\r\nHost: api.openai.com\r\n'),
    ],
    opts: { ...OPTS, noBody: [0] },
    answers: { anyOf: [[{ status: 200, code: null }, { status: 408 }], [{ status: 200, code: null }]] },
    mustClose: true,
    check: ({ conversation }) => {
      assert.ok(conversation.closedByServer, 'the server kept a trickling tunnel open for 4 s');
      // The tunnel itself opens at once; the inner head must be cut off within the timeout too.
      assert.ok(conversation.closedAfterMs! <= HEADERS_TIMEOUT_MS + SLACK_MS + 300, `closed only after ${conversation.closedAfterMs} ms`);
    },
  },
  {
    id: 'SLOW-04',
    attack: 'a tunnel to a routed host that never sends its first byte',
    steps: () => [req('CONNECT api.openai.com:80 HTTP/1.1', 'Host: api.openai.com:80'), { pause: 3000 }],
    opts: { ...OPTS, noBody: [0] },
    answers: [{ status: 200, code: null }],
    mustClose: true,
    check: ({ conversation }) => assert.ok(conversation.closedAfterMs! <= HEADERS_TIMEOUT_MS + SLACK_MS, `closed only after ${conversation.closedAfterMs} ms`),
  },
];

registerHostileSuite(cases, { extra: `limits:\n  headers_timeout: ${HEADERS_TIMEOUT_MS}ms\n` });
