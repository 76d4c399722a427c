/**
 * Run-length storage of change pixels. A run is a horizontal stretch of pixels of one change kind
 * inside one window, with the sum and maximum of its probabilities, so memory grows with the
 * number of change runs, never with the size of the scene. Runs are kept in arrival order and
 * sorted into grid rows only when the components are wanted.
 */

/** Runs sorted by (row, start): the runs of grid row r are indices [rowStart[r], rowStart[r + 1]). */
export interface SortedRuns {
  count: number;
  /** Length gridHeight + 1. */
  rowStart: Int32Array;
  /** First column of each run (grid pixels). */
  start: Int32Array;
  /** Column after the last pixel of each run (exclusive). */
  end: Int32Array;
  /** Change kind code (1..255). */
  kind: Uint8Array;
  /** Sum of the change probabilities of the run's pixels. */
  sumProb: Float64Array;
  /** Largest change probability in the run. */
  maxProb: Float32Array;
}

export class RunStore {
  count = 0;
  private row = new Int32Array(256);
  private start = new Int32Array(256);
  private end = new Int32Array(256);
  private kind = new Uint8Array(256);
  private sumProb = new Float64Array(256);
  private maxProb = new Float32Array(256);

  push(row: number, start: number, end: number, kind: number, sumProb: number, maxProb: number): void {
    if (this.count === this.row.length) this.grow();
    const i = this.count++;
    this.row[i] = row;
    this.start[i] = start;
    this.end[i] = end;
    this.kind[i] = kind;
    this.sumProb[i] = sumProb;
    this.maxProb[i] = maxProb;
  }

  /** Forgets the runs pushed after the first `count` (undoes a window that failed its checks). */
  truncate(count: number): void {
    this.count = Math.min(this.count, count);
  }

  /** The runs sorted by (row, start); the store itself is left as it is. */
  sorted(gridHeight: number): SortedRuns {
    const n = this.count;
    const rowStart = new Int32Array(gridHeight + 1);
    for (let i = 0; i < n; i++) rowStart[this.row[i] + 1]++;
    for (let r = 0; r < gridHeight; r++) rowStart[r + 1] += rowStart[r];
    // Counting sort by row (stable), then each row by start: windows arrive in any order, but
    // within a row the runs of one window already come left to right, so most rows need nothing.
    const order = new Int32Array(n);
    const fill = rowStart.slice(0, gridHeight);
    for (let i = 0; i < n; i++) order[fill[this.row[i]]++] = i;
    for (let r = 0; r < gridHeight; r++) {
      const a = rowStart[r];
      const b = rowStart[r + 1];
      let ordered = true;
      for (let i = a + 1; i < b && ordered; i++) ordered = this.start[order[i - 1]] < this.start[order[i]];
      if (ordered) continue;
      const part = Array.from(order.subarray(a, b)).sort((x, y) => this.start[x] - this.start[y]);
      order.set(part, a);
    }
    const out: SortedRuns = {
      count: n,
      rowStart,
      start: new Int32Array(n),
      end: new Int32Array(n),
      kind: new Uint8Array(n),
      sumProb: new Float64Array(n),
      maxProb: new Float32Array(n),
    };
    for (let i = 0; i < n; i++) {
      const j = order[i];
      out.start[i] = this.start[j];
      out.end[i] = this.end[j];
      out.kind[i] = this.kind[j];
      out.sumProb[i] = this.sumProb[j];
      out.maxProb[i] = this.maxProb[j];
    }
    return out;
  }

  private grow(): void {
    const size = this.row.length * 2;
    const grown = <T extends Int32Array | Uint8Array | Float64Array | Float32Array>(a: T, make: (n: number) => T): T => {
      const b = make(size);
      b.set(a);
      return b;
    };
    this.row = grown(this.row, (s) => new Int32Array(s));
    this.start = grown(this.start, (s) => new Int32Array(s));
    this.end = grown(this.end, (s) => new Int32Array(s));
    this.kind = grown(this.kind, (s) => new Uint8Array(s));
    this.sumProb = grown(this.sumProb, (s) => new Float64Array(s));
    this.maxProb = grown(this.maxProb, (s) => new Float32Array(s));
  }
}
