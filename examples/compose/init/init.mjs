// One-shot setup for the compose example, run as root with only CAP_CHOWN, no network:
//  - installs the demo agent key into the sanctum-keys volume, owned by the sidecar's user
//    (65532) with mode 0400 (the sidecar refuses key files that other users can read);
//  - hands the sanctum-run volume (the dev vault's Unix socket directory) to that user.
// Idempotent: `docker compose up` may run it again.
import { chmodSync, chownSync, copyFileSync, rmSync } from 'node:fs';

const UID = 65532;
const GID = 65532;
const key = '/keys/demo-agent.key';

rmSync(key, { force: true });
copyFileSync('/etc/sanctum-compose/demo-agent.key', key);
chownSync(key, UID, GID);
chmodSync(key, 0o400);

chownSync('/run/sanctum', UID, GID);
chmodSync('/run/sanctum', 0o700);

console.log(`init: installed ${key} (0400, uid ${UID}); /run/sanctum (0700, uid ${UID})`);
