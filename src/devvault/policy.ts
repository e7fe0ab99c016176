/**
 * Dev vault policies, modelled on the real vault's: a principal glob
 * (`agent:<glob>`), resource path globs, actions, and the conditions
 * `allowed_operations` and `allowed_domains`. `*` matches any run of characters,
 * `/` included (vault-protocol.md). A request is allowed when one policy grants
 * it whole. ACCESS_DENIED means no policy grants the action on the path at all;
 * POLICY_DENIED means one does, but a condition refuses this use of it.
 *
 * allowed_domains can only be checked where the vault sees the destination, i.e. for
 * http_request; a policy that also allows http_header hands out a header that can be
 * sent anywhere, so restrict allowed_operations too when the domain matters.
 */
export const ACTIONS = ['use', 'retrieve', 'list'] as const;
export type Action = (typeof ACTIONS)[number];
export const OPERATIONS = ['http_header', 'http_request', 'sign', 'encrypt', 'decrypt'] as const;

export interface Policy {
  name: string;
  principal: RegExp;
  resources: RegExp[];
  actions: ReadonlySet<string>;
  allowedOperations: ReadonlySet<string> | undefined;
  allowedDomains: RegExp[] | undefined;
}

export interface PolicyRequest {
  agent: string;
  action: Action;
  path: string;
  operation?: string;
  /** The target host of an http_request, checked against allowed_domains. */
  host?: string;
}

export type Decision = { allowed: true; policy: string } | { allowed: false; code: 'ACCESS_DENIED' | 'POLICY_DENIED'; reason: string };

/** Glob → anchored RegExp; only `*` is special. */
export function globToRegExp(glob: string, flags = ''): RegExp {
  const body = glob.split('*').map((part) => part.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')).join('.*');
  return new RegExp(`^${body}$`, flags);
}

export function compilePolicy(
  p: { name?: string; principal: string; resources: string[]; actions: string[]; allowed_operations?: string[]; allowed_domains?: string[] },
  index: number,
): Policy {
  return {
    name: p.name ?? `policies[${index}]`,
    principal: globToRegExp(p.principal),
    resources: p.resources.map((r) => globToRegExp(r)),
    actions: new Set(p.actions),
    allowedOperations: p.allowed_operations ? new Set(p.allowed_operations) : undefined,
    // Host names are case-insensitive (RFC 4343).
    allowedDomains: p.allowed_domains?.map((d) => globToRegExp(d.toLowerCase(), 'i')),
  };
}

/** Decide one request against every policy. */
export function decide(policies: readonly Policy[], req: PolicyRequest): Decision {
  const principal = `agent:${req.agent}`;
  const grants = policies.filter(
    (p) => p.principal.test(principal) && p.actions.has(req.action) && p.resources.some((r) => r.test(req.path)),
  );
  if (grants.length === 0) {
    return { allowed: false, code: 'ACCESS_DENIED', reason: `no policy grants ${principal} "${req.action}" on "${req.path}"` };
  }
  let refusal = '';
  for (const p of grants) {
    if (req.operation !== undefined && p.allowedOperations && !p.allowedOperations.has(req.operation)) {
      refusal ||= `policy "${p.name}" does not allow operation "${req.operation}"`;
      continue;
    }
    if (req.host !== undefined && p.allowedDomains && !p.allowedDomains.some((d) => d.test(req.host!))) {
      refusal ||= `policy "${p.name}" does not allow requests to "${req.host}"`;
      continue;
    }
    return { allowed: true, policy: p.name };
  }
  return { allowed: false, code: 'POLICY_DENIED', reason: refusal };
}

/** True when some policy lets the agent list this path. */
export function canList(policies: readonly Policy[], agent: string, path: string): boolean {
  return decide(policies, { agent, action: 'list', path }).allowed;
}
