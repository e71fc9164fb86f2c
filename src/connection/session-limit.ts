/**
 * Bounds the channels open at once on one SSH connection: sshd refuses sessions past MaxSessions (10 by
 * default), which would turn a burst of parallel execs into spurious failures.
 */
export class SessionLimit {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly limit: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) {
      // The finishing task hands its slot straight to us, so `active` is not re-counted here.
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.active += 1;
    }
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      if (next === undefined) this.active -= 1;
      else next();
    }
  }
}
