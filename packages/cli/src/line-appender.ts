// The xferlog's writer: lines appended in order, off the sessions' path, through a bounded queue.
/** xferlog lines waiting for the disk; past this many (a disk that does not keep up) lines are dropped and counted. */
export const MAX_QUEUED_XFERLOG_LINES = 10_000;

/**
 * Appends lines to a file in order, off the sessions' path. Each write opens the file anew, so a
 * log rotated away (logrotate's rename) is followed by the next line without any signal.
 */
export class LineAppender {
  private queue: string[] = [];
  private dropped = 0;
  private pumping: Promise<void> | null = null;

  constructor(private readonly file: string, private readonly append: (file: string, text: string) => Promise<void>, private readonly report: (problem: string) => void) {}

  push(line: string): void {
    if (this.queue.length >= MAX_QUEUED_XFERLOG_LINES) {
      this.dropped++;
      return;
    }
    this.queue.push(line);
    this.pumping ??= this.pump().finally(() => (this.pumping = null));
  }

  /** Resolves once every line pushed so far is written (or given up). */
  idle(): Promise<void> {
    return this.pumping ?? Promise.resolve();
  }

  private async pump(): Promise<void> {
    while (this.queue.length > 0) {
      const lines = this.queue;
      this.queue = [];
      if (this.dropped > 0) {
        this.report(`${String(this.dropped)} xferlog line(s) dropped (the disk did not keep up)`);
        this.dropped = 0;
      }
      try {
        await this.append(this.file, `${lines.join("\n")}\n`);
      } catch (error) {
        this.report(`cannot write the xferlog ${this.file}: ${error instanceof Error ? error.message : String(error)} (${String(lines.length)} line(s) lost)`);
      }
    }
  }
}
