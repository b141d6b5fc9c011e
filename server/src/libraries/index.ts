/** Lock libraries as adapters: see adapter.ts for the interface, registry.ts for the order they are asked in. */
export type { CurrentOwner, GroupRecognition, HolderRecognition, LockLibrary, Present, RecogniseContext, Recognition, ReleaseTarget, RenewalRule, SideKey } from './adapter';
export { PlanRefusal } from './adapter';
export { lockFormatsSchema, type DeclaredFormat, type LockFormat } from './declared';
export type { OwnerCheck, PlanStep, PublishCommand, ReleasePlan } from './release-plan';
export { isPlainStringDelete } from './release-plan';
export { BUILTIN_LIBRARIES, BUILTIN_PATTERNS, createLibraries, GENERIC_LOCK_GLOB, type Libraries } from './registry';
