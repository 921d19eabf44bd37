import { validateSources } from '../../src/config/validate-sources.js';
import type { Source, SourceRead, SourceTrigger } from '../../src/sources/source.js';

/** A source held in memory: the test sets its text, and may make the next reads see a new version each (a file still being written). */
export class MemorySource implements Source {
  readonly description: string;
  reads = 0;
  /** Reads that still see a version of their own before the text settles. */
  restless = 0;
  private onChange: ((trigger: SourceTrigger) => void) | undefined;

  constructor(
    private readonly file: string,
    public text: string,
  ) {
    this.description = file;
  }

  async read(): Promise<SourceRead> {
    const n = ++this.reads;
    const version = this.restless-- > 0 ? `moving-${n}` : this.text;
    const text = this.text;
    return { version, objects: async () => validateSources([{ file: this.file, text }]) };
  }

  watch(onChange: (trigger: SourceTrigger) => void): void {
    this.onChange = onChange;
  }

  stop(): void {
    this.onChange = undefined;
  }

  /** What a watcher does: says that something may have changed. */
  changed(): void {
    this.onChange?.('watch');
  }
}
