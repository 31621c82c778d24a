import * as React from 'react';

export interface IVirtualListProps<T> {
  items: readonly T[];
  /** Height of every row in px: rows must render exactly this tall. */
  rowHeight: number;
  /** The viewport shows at most this many rows; a shorter list takes its own height. */
  maxRows: number;
  /** Rows rendered beyond each edge of the viewport, so fast scrolling shows no gap. */
  overscan?: number;
  /**
   * The list scrolls back to its top when this changes (a new filter or order), not when
   * the items are merely re-read: a refresh must not lose the reader's place.
   */
  resetKey?: string;
  /** Accessible name of the scrollable list. */
  label: string;
  className?: string;
  listClassName?: string;
  /** One row (an `<li>`), `index` in `items`; keyed by the caller. */
  renderRow: (item: T, index: number) => JSX.Element;
}

/** Which rows to render for a viewport scrolled to `scrollTop`: [first, last). */
export function visibleRange(
  count: number,
  rowHeight: number,
  viewportHeight: number,
  scrollTop: number,
  overscan: number
): [number, number] {
  const first = Math.max(0, Math.floor(scrollTop / rowHeight) - overscan);
  const last = Math.min(
    count,
    Math.ceil((scrollTop + viewportHeight) / rowHeight) + overscan
  );
  return [first, Math.max(first, last)];
}

/**
 * A list that renders only the rows in view (plus `overscan`), so that ten thousand rows
 * scroll and re-filter as fast as thirty. Rows have one fixed height, which is what lets the
 * window be computed from the scroll offset alone. Pure: props in, no callbacks out.
 *
 * The viewport takes the keyboard focus; arrows scroll by a row, Page Up/Down by a page,
 * Home/End to the ends.
 */
export function VirtualList<T>(props: IVirtualListProps<T>): JSX.Element {
  const { items, rowHeight, maxRows } = props;
  const overscan = props.overscan ?? 8;
  const viewport = React.useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = React.useState(0);

  const total = items.length * rowHeight;
  const height = Math.min(total, maxRows * rowHeight);
  const maxScroll = Math.max(0, total - height);

  React.useEffect(() => {
    if (viewport.current) {
      viewport.current.scrollTop = 0;
    }
    setScrollTop(0);
  }, [props.resetKey]);

  const scrollTo = (top: number) => {
    const next = Math.min(maxScroll, Math.max(0, top));
    if (viewport.current) {
      viewport.current.scrollTop = next;
    }
    setScrollTop(next);
  };

  const onKeyDown = (event: React.KeyboardEvent) => {
    const page = Math.max(rowHeight, height - rowHeight);
    const by: Record<string, number> = {
      ArrowDown: rowHeight,
      ArrowUp: -rowHeight,
      PageDown: page,
      PageUp: -page
    };
    if (event.key in by) {
      scrollTo(scrollTop + by[event.key]);
    } else if (event.key === 'Home') {
      scrollTo(0);
    } else if (event.key === 'End') {
      scrollTo(maxScroll);
    } else {
      return;
    }
    event.preventDefault();
  };

  const [first, last] = visibleRange(
    items.length,
    rowHeight,
    height,
    Math.min(scrollTop, maxScroll),
    overscan
  );
  const rows: JSX.Element[] = [];
  for (let i = first; i < last; i++) {
    rows.push(props.renderRow(items[i], i));
  }

  return (
    <div
      ref={viewport}
      className={props.className}
      style={{ height, overflowY: 'auto' }}
      tabIndex={0}
      role="region"
      aria-label={props.label}
      onScroll={e => setScrollTop(e.currentTarget.scrollTop)}
      onKeyDown={onKeyDown}
    >
      <div style={{ height: total, position: 'relative' }}>
        <ul
          className={props.listClassName}
          style={{ transform: `translateY(${first * rowHeight}px)` }}
        >
          {rows}
        </ul>
      </div>
    </div>
  );
}
