/**
 * Formats a team declares in a JSON file (`LOCK_FORMATS=./lock-formats.json`): an in-house lock gets a label, its
 * owner decoded, its renewal cadence watched and its force-release governed, like a built-in library. A declared
 * format claims every key its `keyPattern` matches (of its `type`) before any built-in adapter looks.
 */
import { z } from 'zod';
import { DECLARED_PREFIX, type DeclaredLibraryId } from '../../../shared/libraries';
import { visibleText } from '../../../shared/visible-text';
import { compileGlob } from '../model/glob';
import type { LockLibrary, Recognition, RenewalRule } from './adapter';
import { PlanRefusal } from './adapter';
import { jsonFields, lockOf, own } from './common';
import type { OwnerCheck, PlanStep, ReleasePlan } from './release-plan';

const text = (what: string, max: number) =>
  z
    .string({ error: (i) => (i.input === undefined ? 'is required' : `must be ${what}`) })
    .min(1, { message: 'must not be empty' })
    .max(max, { message: `must be at most ${max} characters` });

const regex = text('a regular expression (JavaScript syntax)', 500).superRefine((v, ctx) => {
  try {
    new RegExp(v);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: `is not a valid regular expression: ${(err as Error).message}` });
  }
});

const fieldList = z.array(text('a field name', 100), { error: 'must be an array of field names' }).max(20, { message: 'must list at most 20 fields' });

const owner = z.discriminatedUnion(
  'from',
  [
    z.strictObject({ from: z.literal('value') }),
    z.strictObject({ from: z.literal('regex'), pattern: regex }),
    z.strictObject({ from: z.literal('json'), field: text('a JSON member name', 100), fields: fieldList.optional() }),
    z.strictObject({ from: z.literal('hash-field'), field: text('a hash field name', 200), fields: fieldList.optional() }),
  ],
  { error: 'must be {"from": "value"}, {"from": "regex", "pattern": …}, {"from": "json", "field": …} or {"from": "hash-field", "field": …}' },
);

const renewal = z.union(
  [
    z.strictObject({
      everyMs: z
        .number({ error: 'must be a number of ms' })
        .int({ message: 'must be whole ms' })
        .min(10, { message: 'must be at least 10 ms' })
        .max(86_400_000, { message: 'must be at most a day' }),
    }),
    z.strictObject({ fractionOfTtl: z.number({ error: 'must be a number' }).gt(0, { message: 'must be above 0' }).max(1, { message: 'must be at most 1' }) }),
  ],
  { error: 'must be {"everyMs": n} or {"fractionOfTtl": 0..1}' },
);

/** `unknown field "x"` for a key the schema does not know (a typo must not pass silently). */
const strict = {
  error: (issue: { code?: string; keys?: string[] }) =>
    issue.code === 'unrecognized_keys' ? `unknown field${issue.keys!.length > 1 ? 's' : ''} ${issue.keys!.map((k) => `"${visibleText(k)}"`).join(', ')}` : 'must be a JSON object',
};
/** Run cross-field checks even when a field already failed, so one start-up names every problem. */
const always = { when: (p: { value: unknown }) => typeof p.value === 'object' && p.value !== null && !Array.isArray(p.value) };

const format = z
  .strictObject({
    // The label is shown as the library's name (and is a metrics label): it must read as what it is.
    label: text('a string', 40).superRefine((v, ctx) => {
      if (visibleText(v) !== v) ctx.addIssue({ code: 'custom', message: `must be plain text that shows as itself, not "${visibleText(v)}" (no control, invisible or bidi characters, no odd spaces)` });
    }),
    keyPattern: text('a Redis glob (e.g. "billing:lock:*")', 200),
    type: z.enum(['string', 'hash'], { error: 'must be "string" or "hash"' }).default('string'),
    owner: owner.default({ from: 'value' }),
    renewal: renewal.nullable().default(null),
    forceRelease: z.boolean({ error: 'must be true or false' }).default(true),
    onRelease: z
      .strictObject({
        publish: z.strictObject({ channel: text('a channel name ({key} and {owner} are replaced)', 200), message: text('a message ({key} and {owner} are replaced)', 500) }),
      })
      .optional(),
  }, strict)
  .superRefine((f, ctx) => {
    const from = (f.owner as { from?: unknown } | undefined)?.from ?? 'value';
    if (from === 'hash-field' && f.type !== 'hash') ctx.addIssue({ code: 'custom', path: ['owner', 'from'], message: '"hash-field" needs "type": "hash"' });
    if (from !== 'hash-field' && f.type === 'hash') ctx.addIssue({ code: 'custom', path: ['owner', 'from'], message: 'a hash lock names its owner with "from": "hash-field"' });
  }, always);

/** The LOCK_FORMATS file: `{ "formats": [ … ] }`. */
export const lockFormatsSchema = z
  .strictObject({ formats: z.array(format, { error: 'must be an array of formats' }).max(100, { message: 'must list at most 100 formats' }) }, { error: 'must be a JSON object with a "formats" array' })
  .superRefine(({ formats }, ctx) => {
    if (!Array.isArray(formats)) return;
    const seen = new Map<string, number>();
    formats.forEach((f: { label?: unknown }, i) => {
      if (typeof f?.label !== 'string') return;
      const before = seen.get(f.label);
      if (before !== undefined) ctx.addIssue({ code: 'custom', path: ['formats', i, 'label'], message: `"${f.label}" is already the label of formats[${before}]` });
      else seen.set(f.label, i);
    });
  }, always);

export type DeclaredFormat = z.output<typeof format>;
/** A format as declared (a LOCK_FORMATS file's `formats` entry, or createLockscope's `lockFormats`): defaults not yet filled in. */
export type LockFormat = z.input<typeof format>;

const declaredRenewal = (r: DeclaredFormat['renewal']): RenewalRule | null => {
  if (r === null) return null;
  if ('everyMs' in r) return { cadence: () => r.everyMs, always: () => true };
  return { cadence: (maxTtl) => Math.round(maxTtl * r.fractionOfTtl), always: () => true };
};

/** `{key}` and `{owner}` in a declared channel or message, replaced by the lock's key and owner bytes. */
function fill(template: string, key: Buffer, owner: Buffer): Buffer {
  const parts = template.split(/(\{key\}|\{owner\})/);
  return Buffer.concat(parts.map((p) => (p === '{key}' ? key : p === '{owner}' ? owner : Buffer.from(p, 'utf8'))));
}

/** A declared format as an adapter: it claims every key of its type that its pattern matches. */
export function declaredLibrary(f: DeclaredFormat): LockLibrary {
  const id = `${DECLARED_PREFIX}${f.label}` as DeclaredLibraryId;
  const matches = compileGlob(f.keyPattern);
  const rule = declaredRenewal(f.renewal);
  const pattern = f.owner.from === 'regex' ? new RegExp(f.owner.pattern) : null;
  const checkOf = (owner: Buffer): OwnerCheck =>
    f.owner.from === 'hash-field' ? { kind: 'hash-value', field: Buffer.from(f.owner.field, 'utf8'), value: owner } : { kind: 'string', value: owner };
  const decorate = (r: Recognition): Recognition => {
    r.renewal = rule;
    return r;
  };
  return {
    id,
    ...(rule ? { renewal: rule } : {}),
    claims: 'key',
    patterns: [f.keyPattern],
    recognise({ bytes }, probe) {
      if (probe.type !== f.type || !matches(bytes)) return null;
      const o = f.owner;
      if (o.from === 'hash-field') {
        const fields = probe.fields ?? [];
        const value = fields.find(([name]) => name.toString('utf8') === o.field);
        const r = lockOf(id, value ? value[1] : null);
        r.ownerCut = (value?.[2] ?? 0) !== 0;
        for (const name of o.fields ?? []) {
          const v = fields.find(([n]) => n.toString('utf8') === name);
          if (v) r.fields[name] = own(v[1].toString('utf8').slice(0, 200));
        }
        return decorate(r);
      }
      const value = probe.value;
      if (!value) return null;
      const r = lockOf(id, value);
      const textValue = value.toString('utf8');
      if (o.from === 'regex') {
        const m = pattern!.exec(textValue);
        if (!m) r.fields.note = 'the value does not match the declared pattern';
        else for (const [name, v] of Object.entries(m.groups ?? {})) if (v !== undefined) r.fields[name] = own(v.slice(0, 200));
      } else if (o.from === 'json') {
        const names = [o.field, ...(o.fields ?? [])];
        const parsed = jsonFields(textValue, names);
        for (const name of names) {
          const v = parsed[name];
          if (v === undefined || v === null) continue;
          const shown = typeof v === 'string' ? v : JSON.stringify(v);
          r.fields[name === o.field ? `owner (${name})` : name] = own(shown.slice(0, 200));
        }
      }
      return decorate(r);
    },
    releasePlan({ key, owner, scope }): ReleasePlan {
      if (!f.forceRelease) throw new PlanRefusal(`the format "${f.label}" is declared with "forceRelease": false in LOCK_FORMATS`);
      if (scope !== 'lock') throw new PlanRefusal(`"${f.label}" locks have one owner: release the lock itself`);
      const steps: PlanStep[] = [{ op: 'del' }];
      if (f.onRelease) {
        const { channel, message } = f.onRelease.publish;
        steps.push({ op: 'publish', command: 'PUBLISH', channel: fill(channel, key, owner), message: fill(message, key, owner), wake: 'declared-channel' });
      }
      return { check: checkOf(owner), bookkeeping: [], steps, scope: 'lock' };
    },
    ownerCheck: ({ owner }) => checkOf(owner),
  };
}
