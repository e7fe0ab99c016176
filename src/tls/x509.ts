/**
 * X.509 certificates for TLS interception, built by hand (RFC 5280) with the DER
 * encoder beside this file and signed with node:crypto: the interception CA (`ca
 * init`) and the short-lived leaf certificates minted per intercepted host.
 *
 * Choices: ECDSA P-256 keys, ecdsa-with-SHA256 signatures (sha256WithRSAEncryption
 * when an operator brings an RSA CA), 128-bit random serials, validity back-dated an
 * hour for clock skew. The CA is `cA:TRUE, pathLen:0` and may only sign certificates
 * and CRLs; leaves are `cA:FALSE`, digitalSignature, serverAuth, and name exactly one
 * host in subjectAltName. Both carry key identifiers so strict verifiers (OpenSSL's
 * X509_STRICT, as in Python 3.13+) build the chain.
 */
import { createHash, createPrivateKey, generateKeyPairSync, randomBytes, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import { addressBytes } from '../egress/ip.js';
import * as der from './der.js';

const OID = {
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  sha256WithRsa: '1.2.840.113549.1.1.11',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
} as const;

/** KeyUsage bit positions (RFC 5280 §4.2.1.3). */
const KU = { digitalSignature: 0, keyCertSign: 5, cRLSign: 6 } as const;

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/** What signing a certificate needs from its issuer. */
export interface Issuer {
  /** The issuer's private key. */
  readonly key: KeyObject;
  /** The issuer certificate's subject Name, byte for byte (it becomes the child's issuer). */
  readonly subject: Buffer;
  /** The issuer's subjectKeyIdentifier, or null when its certificate has none. */
  readonly keyId: Buffer | null;
}

export interface Issued {
  readonly certPem: string;
  readonly keyPem: string;
  readonly key: KeyObject;
  readonly notAfter: Date;
}

function pem(label: string, body: Buffer): string {
  const b64 = body.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

function name(attrs: ReadonlyArray<readonly [string, string]>): Buffer {
  return der.seq(...attrs.map(([type, value]) => der.set(der.seq(der.oid(type), der.utf8(value)))));
}

function signatureAlgorithm(key: KeyObject): Buffer {
  switch (key.asymmetricKeyType) {
    case 'ec':
      return der.seq(der.oid(OID.ecdsaWithSha256)); // parameters absent (RFC 5758 §3.2)
    case 'rsa':
      return der.seq(der.oid(OID.sha256WithRsa), der.nul());
    default:
      throw new Error(`certificates can be signed with EC or RSA keys, not ${key.asymmetricKeyType ?? 'unknown'}`);
  }
}

/** RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING's value. */
export function keyIdentifier(spki: Buffer): Buffer {
  const top = der.readNode(spki, 0);
  const bitString = der.children(spki, top)[1];
  if (bitString === undefined || bitString.tag !== der.TAG.BIT_STRING) throw new Error('malformed SubjectPublicKeyInfo');
  return createHash('sha1').update(spki.subarray(bitString.contentStart + 1, bitString.end)).digest();
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return critical ? der.seq(der.oid(id), der.bool(true), der.octets(value)) : der.seq(der.oid(id), der.octets(value));
}

function serialNumber(): Buffer {
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x7f) | 0x01; // positive and exactly 16 bytes (RFC 5280 §4.1.2.2)
  return b;
}

interface CertSpec {
  readonly issuer: Issuer;
  readonly subject: Buffer;
  readonly spki: Buffer;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly extensions: Buffer[];
}

function buildCertificate(spec: CertSpec): Buffer {
  const alg = signatureAlgorithm(spec.issuer.key);
  const tbs = der.seq(
    der.explicit(0, der.uint(2)), // v3
    der.uint(serialNumber()),
    alg,
    spec.issuer.subject,
    der.seq(der.time(spec.notBefore), der.time(spec.notAfter)),
    spec.subject,
    spec.spki,
    der.explicit(3, der.seq(...spec.extensions)),
  );
  return der.seq(tbs, alg, der.bits(sign('sha256', tbs, spec.issuer.key)));
}

function newKeyPair(): { publicKey: KeyObject; privateKey: KeyObject; spki: Buffer } {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return { publicKey, privateKey, spki: publicKey.export({ type: 'spki', format: 'der' }) };
}

/** A new self-signed interception CA. */
export function createCa(opts: { commonName?: string; days?: number; now?: Date } = {}): Issued {
  const now = opts.now ?? new Date();
  const notAfter = new Date(now.getTime() + (opts.days ?? 3650) * DAY_MS);
  const { privateKey, spki } = newKeyPair();
  const keyId = keyIdentifier(spki);
  const cn = opts.commonName ?? `sanctum-sidecar interception CA ${randomBytes(4).toString('hex')}`;
  const subject = name([
    [OID.organization, 'sanctum-sidecar'],
    [OID.commonName, cn],
  ]);
  const certDer = buildCertificate({
    issuer: { key: privateKey, subject, keyId },
    subject,
    spki,
    notBefore: new Date(now.getTime() - HOUR_MS),
    notAfter,
    extensions: [
      extension(OID.basicConstraints, true, der.seq(der.bool(true), der.uint(0))),
      extension(OID.keyUsage, true, der.namedBits([KU.digitalSignature, KU.keyCertSign, KU.cRLSign])),
      extension(OID.subjectKeyIdentifier, false, der.octets(keyId)),
    ],
  });
  return {
    certPem: pem('CERTIFICATE', certDer),
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    key: privateKey,
    notAfter,
  };
}

/**
 * A leaf certificate for one host (a DNS name or an IP literal), signed by `issuer`.
 * Short-lived by design: it is minted in memory and never written anywhere.
 */
export function createLeaf(host: string, issuer: Issuer, opts: { days?: number; now?: Date } = {}): Issued {
  const now = opts.now ?? new Date();
  const notAfter = new Date(now.getTime() + (opts.days ?? 7) * DAY_MS);
  const { privateKey, spki } = newKeyPair();
  const ip = isIP(host) !== 0 ? addressBytes(host) : null;
  if (ip === null && !/^[a-z0-9_.-]+$/.test(host)) throw new Error('leaf certificates are issued for canonical lowercase host names');
  const altName = ip !== null ? der.implicitPrimitive(7, ip) : der.implicitPrimitive(2, Buffer.from(host, 'ascii'));
  // CN is limited to 64 characters (RFC 5280 ub-common-name); the SAN is what clients check.
  const subject = name(host.length <= 64 ? [[OID.commonName, host]] : [[OID.organization, 'sanctum-sidecar']]);
  const extensions = [
    extension(OID.basicConstraints, true, der.seq()),
    extension(OID.keyUsage, true, der.namedBits([KU.digitalSignature])),
    extension(OID.extKeyUsage, false, der.seq(der.oid(OID.serverAuth))),
    extension(OID.subjectAltName, false, der.seq(altName)),
    extension(OID.subjectKeyIdentifier, false, der.octets(keyIdentifier(spki))),
  ];
  if (issuer.keyId !== null) {
    extensions.push(extension(OID.authorityKeyIdentifier, false, der.seq(der.implicitPrimitive(0, issuer.keyId))));
  }
  const certDer = buildCertificate({ issuer, subject, spki, notBefore: new Date(now.getTime() - HOUR_MS), notAfter, extensions });
  return {
    certPem: pem('CERTIFICATE', certDer),
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    key: privateKey,
    notAfter,
  };
}

/** The parts of a CA certificate a child needs: its subject bytes and key identifier. */
export function issuerFrom(cert: X509Certificate, keyPem: string | KeyObject): Issuer {
  const raw = cert.raw;
  const top = der.readNode(raw, 0);
  const tbsNode = der.children(raw, top)[0]!;
  const fields = der.children(raw, tbsNode);
  // [0] version, serial, signature, issuer, validity, subject, spki, ... [3] extensions
  const offset = fields[0]!.tag === 0xa0 ? 1 : 0;
  const subjectNode = fields[offset + 4];
  if (subjectNode === undefined) throw new Error('malformed certificate');
  const subject = Buffer.from(raw.subarray(subjectNode.start, subjectNode.end));
  let keyId: Buffer | null = null;
  const extsWrapper = fields.find((f) => f.tag === 0xa3);
  if (extsWrapper !== undefined) {
    const list = der.children(raw, der.children(raw, extsWrapper)[0]!);
    for (const ext of list) {
      const parts = der.children(raw, ext);
      const id = Buffer.from(raw.subarray(parts[0]!.start, parts[0]!.end));
      if (!id.equals(der.oid(OID.subjectKeyIdentifier))) continue;
      const wrapped = parts[parts.length - 1]!; // OCTET STRING holding the extension value
      const inner = der.readNode(raw, wrapped.contentStart);
      keyId = Buffer.from(raw.subarray(inner.contentStart, inner.end));
    }
  }
  const key = typeof keyPem === 'string' ? createPrivateKey(keyPem) : keyPem;
  return { key, subject, keyId };
}
