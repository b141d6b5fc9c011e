import { create } from 'zustand';
import type { AuditEntry, SessionInfo } from '../../../../shared/admin';
import type { HolderView, LockView } from '../../../../shared/locks';
import { adminApi } from './admin-api';

/** The audit view keeps at most this many entries in memory (older ones are a page load away). */
const AUDIT_KEEP = 500;

/** A lock picked for bulk release, with the owner seen when it was picked (that is the owner checked). */
export interface BulkPick {
  id: string;
  keyText: string;
  ownerBase64: string;
}

interface AdminStore {
  session: SessionInfo | null;
  /** Locks selected for bulk release, by id. */
  bulk: Map<string, BulkPick>;
  toggleBulk(lock: LockView): void;
  clearBulk(): void;
  audit: AuditEntry[];
  auditError: string | null;
  refreshSession(): Promise<void>;
  loadAudit(): Promise<void>;
  /** A live `admin:audit` entry: newest first, de-duplicated by id, bounded. */
  addAudit(entry: AuditEntry): void;
  /**
   * The holder whose release dialog is open. Kept here, not in the holder's row: freeing it removes the row, and
   * the dialog must stay to say what happened.
   */
  holderRelease: { lock: LockView; holder: HolderView } | null;
  setHolderRelease(target: { lock: LockView; holder: HolderView } | null): void;
}

export const useAdminStore = create<AdminStore>()((set, get) => ({
  session: null,
  bulk: new Map(),
  toggleBulk(lock) {
    set((s) => {
      const bulk = new Map(s.bulk);
      if (bulk.has(lock.id)) bulk.delete(lock.id);
      else if (lock.owner) bulk.set(lock.id, { id: lock.id, keyText: lock.key.text, ownerBase64: lock.owner.base64 });
      return { bulk };
    });
  },
  clearBulk: () => set({ bulk: new Map() }),
  audit: [],
  auditError: null,
  async refreshSession() {
    const r = await adminApi.session();
    if (r.ok) set({ session: r.data });
  },
  async loadAudit() {
    if (get().session?.admin !== 'allowed') return set({ audit: [], auditError: null });
    const r = await adminApi.audit();
    if (r.ok) set({ audit: r.data.entries, auditError: null });
    else set({ auditError: r.error.message });
  },
  addAudit(entry) {
    set((s) => (s.audit.some((e) => e.id === entry.id) ? s : { audit: [entry, ...s.audit].slice(0, AUDIT_KEEP) }));
  },
  holderRelease: null,
  setHolderRelease: (holderRelease) => set({ holderRelease }),
}));
