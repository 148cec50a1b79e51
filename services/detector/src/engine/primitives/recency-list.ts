/** A node of a {@link RecencyList}: its neighbours (least recently used first). */
export interface RecencyNode<T> {
  older: T | undefined;
  newer: T | undefined;
}

/**
 * Least-recently-used order as a doubly linked list through the nodes themselves: moving a node to the newest end
 * is pointer updates, where a Map's delete + set (the order it iterates in) cost a visible share of every event.
 */
export class RecencyList<T extends RecencyNode<T>> {
  oldest: T | undefined;
  newest: T | undefined;

  /** Takes a node out of the list. */
  unlink(n: T): void {
    if (n.older === undefined) this.oldest = n.newer;
    else n.older.newer = n.newer;
    if (n.newer === undefined) this.newest = n.older;
    else n.newer.older = n.older;
    n.older = undefined;
    n.newer = undefined;
  }

  /** Puts a node (not in the list) at the newest end. */
  append(n: T): void {
    n.older = this.newest;
    if (this.newest === undefined) this.oldest = n;
    else this.newest.newer = n;
    this.newest = n;
  }

  /** Moves a node of the list to the newest end. */
  touch(n: T): void {
    if (n === this.newest) return;
    this.unlink(n);
    this.append(n);
  }
}
