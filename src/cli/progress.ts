// A progress bar on the terminal: drawn on stderr, and only when stdout and stderr are both terminals, so that
// nothing of it reaches a pipe, a file or a script's captured output.

export interface Progress {
  update(done: number): void;
  /** clears the bar's line */
  end(): void;
}

export function progressBar(total: number, label: string): Progress {
  if (!process.stdout.isTTY || !process.stderr.isTTY || total === 0) return { update() {}, end() {} };
  const width = 30;
  return {
    update(done: number) {
      const part = Math.min(1, done / total);
      const bar = '#'.repeat(Math.round(part * width)).padEnd(width, '.');
      process.stderr.write(`\r[${bar}] ${Math.round(part * 100)}% ${done}/${total} ${label}`);
    },
    end() {
      process.stderr.write('\r\x1b[K');
    },
  };
}
