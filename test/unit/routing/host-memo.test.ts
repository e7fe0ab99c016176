// normalizeHostName remembers hosts it accepted (every request runs its host through the
// grammar). The memo must never change a verdict: a refused spelling is refused every
// time, an accepted one gives the same normal form, and a flood of distinct hosts only
// makes the memo start over.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HostSyntaxError, normalizeHostName } from '../../../src/routing/host.js';

test('a refused host is refused again on every call, also after a valid spelling of it was accepted', () => {
  assert.equal(normalizeHostName('API.Example.COM.'), 'api.example.com');
  for (let i = 0; i < 3; i++) {
    assert.throws(() => normalizeHostName('api.example.com..'), HostSyntaxError);
    assert.throws(() => normalizeHostName('127.1'), HostSyntaxError);
    assert.throws(() => normalizeHostName('xn--zz.example'), HostSyntaxError);
  }
});

test('an accepted host keeps its normal form through a flood of distinct hosts', () => {
  assert.equal(normalizeHostName('Api.OpenAI.com'), 'api.openai.com');
  for (let i = 0; i < 3000; i++) assert.equal(normalizeHostName(`H${i}.Example.org`), `h${i}.example.org`);
  assert.equal(normalizeHostName('Api.OpenAI.com'), 'api.openai.com');
  assert.equal(normalizeHostName('api.openai.com'), 'api.openai.com');
  assert.throws(() => normalizeHostName('api.openai.com:443'), HostSyntaxError);
});
