import { useLayoutEffect, useState, type RefObject } from 'react';
import { flushSync } from 'react-dom';

/**
 * The content width of `ref`'s element (its client width: scrollbar excluded), starting from `estimate` and
 * following a ResizeObserver. The element is never read directly: reading its size while the page's first layout
 * is pending would force that layout inside the first render's task (the page's longest at start-up). When the
 * observer finds the estimate wrong, the correction renders synchronously, before the browser paints.
 */
export function useWidth(ref: RefObject<HTMLElement | null>, estimate: () => number): number {
  const [width, setWidth] = useState(estimate);
  useLayoutEffect(() => {
    const observer = new ResizeObserver(([entry]) => {
      const w = Math.round(entry!.contentRect.width);
      flushSync(() => setWidth(w));
    });
    observer.observe(ref.current!);
    return () => observer.disconnect();
  }, [ref]);
  return width;
}
