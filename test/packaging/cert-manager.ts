/**
 * cert-manager.io/v1 Issuer and Certificate, which kubernetes-models does not cover, checked
 * structurally against cert-manager's v1 CRDs (cert-manager.io/docs/reference/api-docs): the
 * fields each object may have, the required ones, and the enums and formats of the fields
 * the chart sets. Same contract as k8s.ts: a list of problems, empty when valid.
 */

/* eslint-disable @typescript-eslint/no-explicit-any */
type Obj = Record<string, any>;

/** Allowed keys per path (`.` = the object itself), from the v1 CRDs. */
const FIELDS: Record<string, Record<string, readonly string[]>> = {
  Issuer: {
    '.': ['apiVersion', 'kind', 'metadata', 'spec'],
    spec: ['selfSigned', 'ca', 'acme', 'vault', 'venafi'],
    'spec.selfSigned': ['crlDistributionPoints'],
    'spec.ca': ['secretName', 'crlDistributionPoints', 'ocspServers', 'issuingCertificateURLs'],
  },
  Certificate: {
    '.': ['apiVersion', 'kind', 'metadata', 'spec'],
    spec: [
      'secretName', 'issuerRef', 'commonName', 'dnsNames', 'ipAddresses', 'uris', 'emailAddresses', 'otherNames', 'duration',
      'renewBefore', 'renewBeforePercentage', 'isCA', 'usages', 'privateKey', 'subject', 'literalSubject', 'secretTemplate',
      'keystores', 'revisionHistoryLimit', 'additionalOutputFormats', 'encodeUsagesInRequest', 'nameConstraints',
    ],
    'spec.privateKey': ['algorithm', 'encoding', 'size', 'rotationPolicy'],
    'spec.issuerRef': ['name', 'kind', 'group'],
  },
};
const METADATA = ['name', 'namespace', 'labels', 'annotations'];
const USAGES = new Set([
  'signing', 'digital signature', 'content commitment', 'key encipherment', 'key agreement', 'data encipherment', 'cert sign',
  'crl sign', 'encipher only', 'decipher only', 'any', 'server auth', 'client auth', 'code signing', 'email protection', 's/mime',
  'ipsec end system', 'ipsec tunnel', 'ipsec user', 'timestamping', 'ocsp signing', 'microsoft sgc', 'netscape sgc',
]);
const DNS_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** A Go duration as cert-manager parses it (the chart uses hours). */
const DURATION = /^(\d+(\.\d+)?(h|m|s|ms))+$/;

function get(o: Obj, path: string): unknown {
  return path === '.' ? o : path.split('.').reduce<any>((x, k) => x?.[k], o);
}

export function isCertManager(apiVersion: string): boolean {
  return apiVersion.startsWith('cert-manager.io/');
}

/** Fields that the CRD does not define, as `/spec/privateKey/sizee`. */
export function certManagerUnknownFields(doc: Obj): string[] {
  const shape = FIELDS[doc.kind];
  if (!shape) return [`no cert-manager shape for ${doc.kind}`];
  const out: string[] = [];
  for (const [path, allowed] of Object.entries({ ...shape, metadata: METADATA })) {
    const v = get(doc, path);
    if (v === undefined || v === null || typeof v !== 'object') continue;
    for (const k of Object.keys(v as Obj)) if (!allowed.includes(k)) out.push(`/${path === '.' ? '' : `${path.replace(/\./g, '/')}/`}${k}`);
  }
  return out;
}

/** Structural validation of an Issuer or Certificate. */
export function validateCertManager(doc: Obj): string[] {
  const out: string[] = [];
  if (doc.apiVersion !== 'cert-manager.io/v1') out.push(`apiVersion ${doc.apiVersion} is not cert-manager.io/v1`);
  if (!DNS_NAME.test(doc.metadata?.name ?? '')) out.push('/metadata/name must be a DNS subdomain');
  const spec = doc.spec as Obj | undefined;
  if (typeof spec !== 'object' || spec === null) return [...out, '/spec is required'];
  if (doc.kind === 'Issuer') {
    const types = ['selfSigned', 'ca', 'acme', 'vault', 'venafi'].filter((t) => spec[t] !== undefined);
    if (types.length !== 1) out.push(`/spec must configure exactly one issuer type, found ${types.join(', ') || 'none'}`);
    if (spec.ca !== undefined && !DNS_NAME.test(spec.ca.secretName ?? '')) out.push('/spec/ca/secretName is required');
  } else if (doc.kind === 'Certificate') {
    if (!DNS_NAME.test(spec.secretName ?? '')) out.push('/spec/secretName is required and must be a Secret name');
    if (typeof spec.issuerRef?.name !== 'string' || spec.issuerRef.name === '') out.push('/spec/issuerRef/name is required');
    if (spec.issuerRef?.kind !== undefined && !['Issuer', 'ClusterIssuer'].includes(spec.issuerRef.kind) && (spec.issuerRef.group ?? 'cert-manager.io') === 'cert-manager.io') {
      out.push('/spec/issuerRef/kind must be Issuer or ClusterIssuer');
    }
    if (spec.commonName === undefined && !(spec.dnsNames?.length > 0) && !(spec.ipAddresses?.length > 0) && !(spec.uris?.length > 0)) {
      out.push('/spec needs commonName, dnsNames, ipAddresses or uris');
    }
    for (const [i, n] of ((spec.dnsNames ?? []) as string[]).entries()) if (!DNS_NAME.test(n)) out.push(`/spec/dnsNames/${i} is not a DNS name`);
    for (const k of ['duration', 'renewBefore']) if (spec[k] !== undefined && !DURATION.test(String(spec[k]))) out.push(`/spec/${k} is not a duration`);
    if (spec.isCA !== undefined && typeof spec.isCA !== 'boolean') out.push('/spec/isCA must be a boolean');
    for (const [i, u] of ((spec.usages ?? []) as string[]).entries()) if (!USAGES.has(u)) out.push(`/spec/usages/${i} "${u}" is not a key usage`);
    const pk = spec.privateKey as Obj | undefined;
    if (pk !== undefined) {
      if (pk.algorithm !== undefined && !['RSA', 'ECDSA', 'Ed25519'].includes(pk.algorithm)) out.push('/spec/privateKey/algorithm must be RSA, ECDSA or Ed25519');
      if (pk.algorithm === 'ECDSA' && pk.size !== undefined && ![256, 384, 521].includes(pk.size)) out.push('/spec/privateKey/size must be 256, 384 or 521 for ECDSA');
      if (pk.rotationPolicy !== undefined && !['Never', 'Always'].includes(pk.rotationPolicy)) out.push('/spec/privateKey/rotationPolicy must be Never or Always');
    }
  } else {
    out.push(`no cert-manager shape for ${doc.kind}`);
  }
  return out;
}
