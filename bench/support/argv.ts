/**
 * A benchmark's `--flag value` options, read in order:
 *
 * ```ts
 * const args = new Argv(argv);
 * for (let flag = args.flag(); flag !== undefined; flag = args.flag()) {
 *   if (flag === '--runs') options.runs = args.int(10, 20_000);
 *   else throw new Error(`unknown option ${flag}`);
 * }
 * ```
 */
export class Argv {
  private next = 0;
  private current: string | undefined;

  constructor(private readonly argv: string[]) {}

  /** The next flag; undefined past the last. */
  flag(): string | undefined {
    this.current = this.argv[this.next++];
    return this.current;
  }

  /** The current flag's value. */
  string(): string {
    return this.argv[this.next++] ?? '';
  }

  /** The current flag's value, an integer in [min, max]. */
  int(min: number, max: number): number {
    const value = Number(this.string());
    if (!Number.isInteger(value) || value < min || value > max) throw new Error(`${this.current} wants an integer in [${min}, ${max}]`);
    return value;
  }
}
