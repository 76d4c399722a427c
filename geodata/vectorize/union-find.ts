/**
 * Disjoint sets over dense integer ids (runs, spans), used to label connected components of
 * run-length rows. The root of a set is always its smallest id: ids are handed out in raster-scan
 * order, so a root is the first run of its component met in that order, which gives
 * deterministic component numbering for free.
 */
export class UnionFind {
  private readonly parent: Int32Array;

  /** @param size number of elements, ids 0..size-1 */
  constructor(size: number) {
    this.parent = new Int32Array(size);
    for (let i = 0; i < size; i++) this.parent[i] = i;
  }

  find(id: number): number {
    const parent = this.parent;
    let a = id;
    // Path halving: keeps trees shallow without recursion (components can hold millions of runs).
    while (parent[a] !== a) {
      parent[a] = parent[parent[a]];
      a = parent[a];
    }
    return a;
  }

  union(a: number, b: number): void {
    const ra = this.find(a);
    const rb = this.find(b);
    if (ra === rb) return;
    if (ra < rb) this.parent[rb] = ra;
    else this.parent[ra] = rb;
  }
}
