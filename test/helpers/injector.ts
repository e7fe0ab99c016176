/**
 * Helpers for the injector tests: a throwaway serving certificate for 127.0.0.1 (from the
 * project's own X.509 builder), the AdmissionReview fixtures, a running in-process
 * injector, and an HTTPS client that posts a review and decodes the JSON Patch it gets.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request as httpsRequest } from 'node:https';
import { X509Certificate } from 'node:crypto';
import { createCa, createLeaf, issuerFrom } from '../../src/tls/x509.js';
import { createLogger } from '../../src/log.js';
import { startInjector, type InjectorServer } from '../../src/injector/server.js';
import type { InjectorSettings } from '../../src/injector/settings.js';
import { applyPatch, type PatchOp } from './json-patch.js';

/* eslint-disable @typescript-eslint/no-explicit-any */
export type Obj = Record<string, any>;

export const FIXTURES = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'injector');

export interface Tls {
  readonly dir: string;
  readonly caPem: string;
  readonly certFile: string;
  readonly keyFile: string;
  /** Writes a fresh leaf (same CA) over the files; returns its fingerprint. */
  renew(): Promise<string>;
  close(): Promise<void>;
}

export async function makeTls(): Promise<Tls> {
  const dir = await mkdtemp(join(tmpdir(), 'sanctum-injector-'));
  const ca = createCa({ commonName: 'test webhook CA' });
  const issuer = issuerFrom(new X509Certificate(ca.certPem), ca.key);
  const certFile = join(dir, 'tls.crt');
  const keyFile = join(dir, 'tls.key');
  const write = async (): Promise<string> => {
    const leaf = createLeaf('127.0.0.1', issuer);
    await writeFile(certFile, leaf.certPem);
    await writeFile(keyFile, leaf.keyPem, { mode: 0o600 });
    return new X509Certificate(leaf.certPem).fingerprint256;
  };
  await write();
  return { dir, caPem: ca.certPem, certFile, keyFile, renew: write, close: () => rm(dir, { recursive: true, force: true }) };
}

export async function fixture(name: string): Promise<Obj> {
  return JSON.parse(await readFile(join(FIXTURES, `${name}.json`), 'utf8')) as Obj;
}

/** A silent logger (tests assert on responses, not log lines). */
export const quietLog = createLogger({ level: 'silent' });

export async function startTestInjector(tls: Tls, settings: InjectorSettings, strictNamespaces: string[] = []): Promise<InjectorServer> {
  return startInjector({
    host: '127.0.0.1',
    port: 0,
    certFile: tls.certFile,
    keyFile: tls.keyFile,
    settings,
    strictNamespaces: new Set(strictNamespaces),
    maxBodyBytes: 256 * 1024,
    log: quietLog,
  });
}

export interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
  readonly json: Obj | undefined;
  /** The peer certificate's SHA-256 fingerprint. */
  readonly fingerprint: string;
}

/** One HTTPS request on a fresh connection, trusting only the test CA. */
export function call(port: number, caPem: string, opts: { method?: string; path?: string; body?: string | Buffer; contentType?: string } = {}): Promise<Answer> {
  return new Promise((resolvePromise, reject) => {
    const body = opts.body ?? '';
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port,
        method: opts.method ?? 'POST',
        path: opts.path ?? '/mutate?timeout=10s',
        ca: caPem,
        agent: false,
        headers: { 'content-type': opts.contentType ?? 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        const fingerprint = (res.socket as import('node:tls').TLSSocket).getPeerX509Certificate?.()?.fingerprint256 ?? '';
        let text = '';
        res.setEncoding('utf8').on('data', (c: string) => (text += c));
        res.on('end', () => {
          let json: Obj | undefined;
          try {
            json = JSON.parse(text) as Obj;
          } catch {
            json = undefined;
          }
          resolvePromise({ status: res.statusCode ?? 0, headers: res.headers, text, json, fingerprint });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Posts a review object; returns the AdmissionReview response member (asserting HTTP 200). */
export async function admit(port: number, caPem: string, review: Obj, path = '/mutate?timeout=10s'): Promise<Obj> {
  const a = await call(port, caPem, { path, body: JSON.stringify(review) });
  if (a.status !== 200 || !a.json) throw new Error(`webhook answered ${a.status}: ${a.text}`);
  if (a.json.apiVersion !== 'admission.k8s.io/v1' || a.json.kind !== 'AdmissionReview') throw new Error(`not an AdmissionReview: ${a.text}`);
  return a.json.response as Obj;
}

export function patchOf(response: Obj): PatchOp[] {
  if (response.patch === undefined) return [];
  if (response.patchType !== 'JSONPatch') throw new Error(`patchType ${response.patchType}`);
  return JSON.parse(Buffer.from(response.patch as string, 'base64').toString('utf8')) as PatchOp[];
}

/** The pod after the webhook's patch, as the API server would store it. */
export function patched(review: Obj, response: Obj): Obj {
  return applyPatch(review.request.object as Obj, patchOf(response));
}
