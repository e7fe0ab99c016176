/** The DER encoder's primitives against known encodings (X.690). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as der from '../../../src/tls/der.js';

const hex = (b: Buffer): string => b.toString('hex');

test('lengths: short form below 128, long form above', () => {
  assert.equal(hex(der.octets(Buffer.alloc(3))), '0403000000');
  assert.equal(hex(der.octets(Buffer.alloc(200))).slice(0, 6), '0481c8');
  assert.equal(hex(der.octets(Buffer.alloc(300))).slice(0, 8), '0482012c');
});

test('INTEGER is minimal and positive', () => {
  assert.equal(hex(der.uint(0)), '020100');
  assert.equal(hex(der.uint(127)), '02017f');
  assert.equal(hex(der.uint(128)), '02020080');
  assert.equal(hex(der.uint(256)), '02020100');
  assert.equal(hex(der.uint(Buffer.from([0, 0, 0x01]))), '020101');
  assert.equal(hex(der.uint(Buffer.from([0xff, 0x01]))), '020300ff01');
});

test('OBJECT IDENTIFIER, including multi-byte arcs', () => {
  assert.equal(hex(der.oid('2.5.4.3')), '0603550403');
  assert.equal(hex(der.oid('1.2.840.10045.4.3.2')), '06082a8648ce3d040302');
  assert.equal(hex(der.oid('1.3.6.1.5.5.7.3.1')), '06082b06010505070301');
});

test('named-bit BIT STRING drops trailing zero bits', () => {
  assert.equal(hex(der.namedBits([0])), '03020780'); // digitalSignature
  assert.equal(hex(der.namedBits([0, 5, 6])), '03020186'); // + keyCertSign, cRLSign
  assert.equal(hex(der.namedBits([8])), '0303070080');
});

test('time: UTCTime until 2049, GeneralizedTime from 2050', () => {
  assert.equal(der.time(new Date(Date.UTC(2026, 0, 2, 3, 4, 5))).toString('latin1', 2), '260102030405Z');
  assert.equal(der.time(new Date(Date.UTC(2026, 0, 2)))[0], 0x17);
  const g = der.time(new Date(Date.UTC(2050, 0, 1)));
  assert.equal(g[0], 0x18);
  assert.equal(g.toString('latin1', 2), '20500101000000Z');
});

test('SET OF is sorted; booleans, NULL and context tags', () => {
  assert.equal(hex(der.set(der.uint(2), der.uint(1))), '3106020101020102');
  assert.equal(hex(der.bool(true)), '0101ff');
  assert.equal(hex(der.nul()), '0500');
  assert.equal(hex(der.explicit(0, der.uint(2))), 'a003020102');
  assert.equal(hex(der.implicitPrimitive(2, Buffer.from('a'))), '820161');
});

test('the reader walks what the writer wrote', () => {
  const s = der.seq(der.uint(1), der.octets(Buffer.alloc(300)), der.oid('2.5.4.3'));
  const top = der.readNode(s, 0);
  assert.equal(top.tag, 0x30);
  assert.equal(top.end, s.length);
  assert.deepEqual(der.children(s, top).map((n) => n.tag), [0x02, 0x04, 0x06]);
  assert.throws(() => der.readNode(s.subarray(0, 5), 0), /truncated/);
});
