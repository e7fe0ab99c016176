/**
 * A small RFC 6902 JSON Patch applier for the injector tests: add, replace and remove, with
 * RFC 6901 pointers (`~0`, `~1`) and the `-` array index. Applies to a deep copy and throws
 * on any path that does not exist, as the API server would refuse such a patch.
 */

/* eslint-disable @typescript-eslint/no-explicit-any */
export interface PatchOp {
  readonly op: string;
  readonly path: string;
  readonly value?: unknown;
}

function tokens(path: string): string[] {
  if (path === '') return [];
  if (!path.startsWith('/')) throw new Error(`JSON pointer must start with /: ${path}`);
  return path
    .slice(1)
    .split('/')
    .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function arrayIndex(arr: unknown[], token: string, forAdd: boolean, path: string): number {
  if (forAdd && token === '-') return arr.length;
  if (!/^(0|[1-9]\d*)$/.test(token)) throw new Error(`bad array index ${token} in ${path}`);
  const i = Number(token);
  if (i > arr.length || (!forAdd && i === arr.length)) throw new Error(`array index ${i} out of range in ${path}`);
  return i;
}

export function applyPatch<T>(doc: T, ops: readonly PatchOp[]): T {
  let root: any = structuredClone(doc);
  for (const op of ops) {
    const t = tokens(op.path);
    if (t.length === 0) {
      if (op.op === 'add' || op.op === 'replace') root = structuredClone(op.value);
      else throw new Error(`cannot ${op.op} the root`);
      continue;
    }
    let parent: any = root;
    for (const [n, token] of t.slice(0, -1).entries()) {
      const next = Array.isArray(parent) ? parent[arrayIndex(parent, token, false, op.path)] : parent?.[token];
      if (next === undefined || next === null || typeof next !== 'object') throw new Error(`path ${op.path} does not exist (at ${t.slice(0, n + 1).join('/')})`);
      parent = next;
    }
    const last = t[t.length - 1]!;
    const value = structuredClone(op.value);
    if (Array.isArray(parent)) {
      const i = arrayIndex(parent, last, op.op === 'add', op.path);
      if (op.op === 'add') parent.splice(i, 0, value);
      else if (op.op === 'replace') parent[i] = value;
      else if (op.op === 'remove') parent.splice(i, 1);
      else throw new Error(`unsupported op ${op.op}`);
    } else {
      if (typeof parent !== 'object' || parent === null) throw new Error(`path ${op.path} does not exist`);
      if ((op.op === 'replace' || op.op === 'remove') && !(last in parent)) throw new Error(`path ${op.path} does not exist`);
      if (op.op === 'add' || op.op === 'replace') parent[last] = value;
      else if (op.op === 'remove') delete parent[last];
      else throw new Error(`unsupported op ${op.op}`);
    }
  }
  return root as T;
}
