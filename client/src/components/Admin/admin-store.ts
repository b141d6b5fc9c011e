import { create } from 'zustand';
import type { AuditEntry, SessionInfo } from '../../../../shared/admin';
import { adminApi } from './admin-api';

/** The audit view keeps at most this many entries in memory (older ones are a page load away). */
const AUDIT_KEEP = 500;

interface AdminStore {
  session: SessionInfo | null;
  audit: AuditEntry[];
  auditError: string | null;
  refreshSession(): Promise<void>;
  loadAudit(): Promise<void>;
  /** A live `admin:audit` entry: newest first, de-duplicated by id, bounded. */
  addAudit(entry: AuditEntry): void;
}

export const useAdminStore = create<AdminStore>()((set, get) => ({
  session: null,
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
}));
