/**
 * Splits a watch stream into its newline-delimited lines without holding more than `maxLineBytes` of an
 * unfinished line: a server that sends a longer line (or never a newline) is refused rather than buffered.
 */
export class LineTooLong extends Error {
  override readonly name = 'LineTooLong';
  constructor(readonly limit: number) {
    super(`a watch line is longer than ${limit} bytes`);
  }
}

export class LineSplitter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  constructor(readonly maxLineBytes = 8 * 1024 * 1024) {}

  /** The complete lines in `chunk` (with what came before it), without their newline; empty lines skipped. Throws LineTooLong. */
  push(chunk: Buffer): string[] {
    const lines: string[] = [];
    let start = 0;
    for (let nl = chunk.indexOf(10, start); nl !== -1; nl = chunk.indexOf(10, start)) {
      const piece = chunk.subarray(start, nl);
      if (this.pendingBytes + piece.length > this.maxLineBytes) throw new LineTooLong(this.maxLineBytes);
      const line = this.pendingBytes === 0 ? piece.toString('utf8') : Buffer.concat([...this.pending, piece]).toString('utf8');
      this.pending = [];
      this.pendingBytes = 0;
      if (line.trim() !== '') lines.push(line);
      start = nl + 1;
    }
    if (start < chunk.length) {
      const rest = chunk.subarray(start);
      if (this.pendingBytes + rest.length > this.maxLineBytes) throw new LineTooLong(this.maxLineBytes);
      // A copy: the stream's chunk may be a slice of a larger pooled buffer that would otherwise stay alive.
      this.pending.push(Buffer.from(rest));
      this.pendingBytes += rest.length;
    }
    return lines;
  }

  /** What was left without a newline at the end of the stream ('' when nothing): a truncated line. */
  end(): string {
    const rest = Buffer.concat(this.pending).toString('utf8');
    this.pending = [];
    this.pendingBytes = 0;
    return rest.trim();
  }
}
