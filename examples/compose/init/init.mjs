// One-shot setup for the compose example, run as root with only CAP_CHOWN, no network:
//  - installs the demo agent key into the sanctum-keys volume, owned by the sidecar's user
//    (65532) with mode 0400 (the sidecar refuses key files that other users can read);
//  - hands the sanctum-run volume (the dev vault's Unix socket directory) to that user.
// Idempotent: `docker compose up` may run it again. Order matters: without CAP_FOWNER, root
// may chmod only what it still owns, so every chmod comes before the chown that gives it away.
import { chmodSync, chownSync, copyFileSync, rmSync, statSync } from 'node:fs';

const UID = 65532;
const GID = 65532;
const key = '/keys/demo-agent.key';

rmSync(key, { force: true });
copyFileSync('/etc/sanctum-compose/demo-agent.key', key);
chmodSync(key, 0o400);
chownSync(key, UID, GID);

const run = '/run/sanctum';
const st = statSync(run);
if (st.uid !== UID) {
  chmodSync(run, 0o700);
  chownSync(run, UID, GID);
} else if ((st.mode & 0o777) !== 0o700) {
  throw new Error(`${run} is owned by ${UID} with mode ${(st.mode & 0o777).toString(8)}; recreate the volume (docker compose down -v)`);
}

console.log(`init: installed ${key} (0400, uid ${UID}); ${run} (0700, uid ${UID})`);
