/**
 * AdmissionReview v1 on the wire (admission.k8s.io/v1): checks a request body, turns it into
 * the one decision the webhook makes, and writes the response. Only Pod CREATE requests are
 * mutated; any other kind or operation is allowed untouched. A body that is not an
 * AdmissionReview v1 is an error with a message saying what is wrong (HTTP 400 at the
 * server). Pure.
 */
import { mutatePod, type Mutation } from './patch.js';
import type { InjectorSettings, Obj } from './settings.js';

export const REVIEW_API_VERSION = 'admission.k8s.io/v1';

/** Kubernetes truncates long warnings; keep each one readable in `kubectl` output. */
const MAX_WARNING = 256;

export interface ReviewRequest {
  readonly uid: string;
  readonly kind: { group?: string; version?: string; kind: string };
  readonly operation: string;
  readonly namespace: string;
  readonly object: Obj | undefined;
}

export type Parsed = { ok: true; request: ReviewRequest } | { ok: false; message: string };

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Checks that `text` is an AdmissionReview v1 request; says what is wrong otherwise. */
export function parseReview(text: string): Parsed {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    return { ok: false, message: `the body is not JSON: ${(err as Error).message}` };
  }
  if (!isObj(body)) return { ok: false, message: 'the body is not a JSON object' };
  if (body.kind !== 'AdmissionReview') return { ok: false, message: `kind is ${JSON.stringify(body.kind)}, expected "AdmissionReview"` };
  if (body.apiVersion !== REVIEW_API_VERSION) {
    return { ok: false, message: `apiVersion is ${JSON.stringify(body.apiVersion)}; this webhook speaks ${REVIEW_API_VERSION} only (set admissionReviewVersions: [v1])` };
  }
  const r = body.request;
  if (!isObj(r)) return { ok: false, message: 'request is missing' };
  if (typeof r.uid !== 'string' || r.uid === '') return { ok: false, message: 'request.uid is missing' };
  if (!isObj(r.kind) || typeof r.kind.kind !== 'string') return { ok: false, message: 'request.kind.kind is missing' };
  if (typeof r.operation !== 'string') return { ok: false, message: 'request.operation is missing' };
  const isPod = r.kind.kind === 'Pod' && (r.kind.group ?? '') === '';
  if (isPod && r.operation === 'CREATE') {
    const o = r.object;
    if (!isObj(o) || !isObj(o.spec) || !Array.isArray(o.spec.containers)) {
      return { ok: false, message: 'request.object is not a Pod: spec.containers is missing' };
    }
    if (o.metadata !== undefined && !isObj(o.metadata)) return { ok: false, message: 'request.object.metadata is not an object' };
    if (o.metadata?.annotations !== undefined && !isObj(o.metadata.annotations)) {
      return { ok: false, message: 'request.object.metadata.annotations is not an object' };
    }
  }
  return {
    ok: true,
    request: {
      uid: r.uid,
      kind: r.kind as ReviewRequest['kind'],
      operation: r.operation,
      namespace: typeof r.namespace === 'string' ? r.namespace : '',
      object: isObj(r.object) ? r.object : undefined,
    },
  };
}

export interface Decision {
  /** The AdmissionReview response object to send. */
  readonly review: Obj;
  /** What happened, for the log: injected, skipped, refused, ignored (not a Pod CREATE). */
  readonly outcome: Mutation['outcome'] | 'ignored';
  readonly reason: string;
  readonly warnings: readonly string[];
}

function clip(w: string): string {
  return w.length > MAX_WARNING ? `${w.slice(0, MAX_WARNING - 1)}…` : w;
}

/** The webhook's decision for one request. `strict`: the request came through the strict path or namespace. */
export function decide(req: ReviewRequest, settings: InjectorSettings, strict: boolean): Decision {
  const response: Obj = { uid: req.uid, allowed: true };
  const review = { apiVersion: REVIEW_API_VERSION, kind: 'AdmissionReview', response };
  if (req.kind.kind !== 'Pod' || (req.kind.group ?? '') !== '' || req.operation !== 'CREATE' || req.object === undefined) {
    return { review, outcome: 'ignored', reason: `${req.operation} ${req.kind.kind}: only Pod CREATE is mutated`, warnings: [] };
  }
  const m = mutatePod(req.object, settings, { strict });
  const warnings = m.warnings.map(clip);
  if (m.outcome === 'refused') {
    response.allowed = false;
    response.status = {
      code: 403,
      reason: 'Forbidden',
      message: `sanctum-sidecar injector (strict mode): ${m.warnings.join('; ')}`,
    };
    return { review, outcome: m.outcome, reason: m.reason, warnings };
  }
  if (m.patch.length > 0) {
    response.patchType = 'JSONPatch';
    response.patch = Buffer.from(JSON.stringify(m.patch)).toString('base64');
  }
  if (warnings.length > 0) response.warnings = warnings;
  return { review, outcome: m.outcome, reason: m.reason, warnings };
}
