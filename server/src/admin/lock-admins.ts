import { AdminError } from './errors';
import type { LockAdmin } from './lock-admin';
import { visibleText } from '../../../shared/visible-text';

/** The lock admin of each watched target: an action names its target (`target` in the body), or gets the first. */
export class LockAdmins {
  constructor(
    private readonly byTarget: ReadonlyMap<string, LockAdmin>,
    private readonly first: string,
  ) {}

  /** The admin for `target` (absent: the first target); 404 `unknown_target` for a target lockscope does not watch. */
  of(target: string | undefined): { target: string; admin: LockAdmin } {
    const id = target ?? this.first;
    const admin = this.byTarget.get(id);
    if (!admin) {
      throw new AdminError(404, 'unknown_target', `lockscope watches no target named "${visibleText(id.slice(0, 64))}" (see GET /healthz for the targets): nothing was changed.`);
    }
    return { target: id, admin };
  }
}
