import { lazy, type ComponentType } from 'react';

const loaders: (() => Promise<unknown>)[] = [];

/**
 * A component whose code is a chunk of its own, fetched the first time it renders (`React.lazy`, under a
 * `<Suspense>`) or earlier by `loadOnDemandCodeWhenIdle`. `pick` names the export.
 */
export function onDemand<M, P extends object>(load: () => Promise<M>, pick: (m: M) => ComponentType<P>) {
  let loading: Promise<M> | undefined;
  const get = () => (loading ??= load());
  loaders.push(get);
  return lazy(() => get().then((m) => ({ default: pick(m) })));
}

/**
 * Fetches every on-demand chunk once the page has painted and is idle, so that opening the simulator, a chart or a
 * dialog later waits for nothing: the first paint does not pay for them, and neither does the first click.
 */
export function loadOnDemandCodeWhenIdle(): void {
  const idle = (f: () => void) => ('requestIdleCallback' in window ? requestIdleCallback(f, { timeout: 5000 }) : setTimeout(f, 200));
  // One chunk per idle period: each is its own short task.
  const next = (i: number) => {
    if (i < loaders.length) idle(() => void loaders[i]!().finally(() => next(i + 1)));
  };
  next(0);
}
