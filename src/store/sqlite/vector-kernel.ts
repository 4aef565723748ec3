/**
 * The scoring kernel of the in-memory vector index (src/store/sqlite/vector-index.ts): a
 * WebAssembly SIMD function, assembled here from its opcodes for one row length (a kilobyte or
 * two of code, no toolchain, no download), that scores int8 rows against an int16 query.
 *
 * Why WebAssembly: V8 does not vectorise JavaScript loops, so a dot product in JS runs one
 * multiply-add at a time (60–70 ms for 100k × 384 floats here), while 128-bit SIMD does eight
 * int16 multiply-adds per instruction (`i32x4.dot_i16x8_s` is x86's `pmaddwd`, NEON's
 * `smull`+`addp` on arm64): the same scan of int8 rows takes 4–6 ms, under half the time it
 * takes merely to read the same vectors as float32 once (about 14 ms).
 *
 * Layout the kernel expects in its memory:
 * - the query at `q`: `blocks × 16` int16 values (zero-padded);
 * - rows of `blocks × 16 + 16` bytes from `base`: `blocks × 16` int8 values (zero-padded), then
 *   the row's float32 scale (and padding);
 * - `count` row numbers (int32) at `list`; the kernel writes `count` float32 scores at `out`:
 *   score[i] = scale(row) × Σ row[d]·q[d] for row = list[i].
 *
 * Overflow: each int32 lane sums `blocks × 4` products of at most 127 × |q|max; `queryScaleLimit`
 * keeps that below 2³¹.
 */

interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  Memory: new (descriptor: { initial: number; maximum?: number }) => WasmMemory;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
  validate(bytes: Uint8Array): boolean;
}
// The project's `lib` has no DOM (where WebAssembly is declared): the few members used, typed here.
const wasm = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

export const WASM_PAGE = 65_536;

// --- a minimal assembler -------------------------------------------------------------------------

const uleb = (value: number): number[] => {
  const out: number[] = [];
  let n = value >>> 0;
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
};
const sleb = (value: number): number[] => {
  const out: number[] = [];
  let n = value | 0;
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
};
const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const name = (text: string): number[] => vec([...Buffer.from(text, 'utf8')].map((b) => [b]));
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];

const I32 = 0x7f;
const F32 = 0x7d;
const V128 = 0x7b;

interface Func {
  name: string;
  params: number[];
  results: number[];
  locals: Array<[count: number, type: number]>;
  code: number[];
}

/** A module importing `env.memory` and exporting the functions. */
function assemble(funcs: Func[]): Uint8Array {
  const types = funcs.map((f) => [0x60, ...vec(f.params.map((p) => [p])), ...vec(f.results.map((r) => [r]))]);
  const bodies = funcs.map((f) => {
    const body = [...vec(f.locals.map(([count, type]) => [...uleb(count), type])), ...f.code, 0x0b];
    return [...uleb(body.length), ...body];
  });
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec(types)),
    ...section(2, vec([[...name('env'), ...name('memory'), 0x02, 0x00, ...uleb(1)]])),
    ...section(3, vec(funcs.map((_, i) => uleb(i)))),
    ...section(7, vec(funcs.map((f, i) => [...name(f.name), 0x00, ...uleb(i)]))),
    ...section(10, vec(bodies)),
  ]);
}

const get = (i: number) => [0x20, ...uleb(i)];
const set = (i: number) => [0x21, ...uleb(i)];
const tee = (i: number) => [0x22, ...uleb(i)];
const i32Const = (n: number) => [0x41, ...sleb(n)];
const I32_ADD = [0x6a];
const I32_MUL = [0x6c];
const I32_SHL = [0x74];
const I32_LT_U = [0x49];
const I32_EQZ = [0x45];
const F32_ADD = [0x92];
const F32_MUL = [0x94];
const END = [0x0b];
const BLOCK = [0x02, 0x40];
const LOOP = [0x03, 0x40];
const brIf = (depth: number) => [0x0d, ...uleb(depth)];
const i32Load = (offset = 0) => [0x28, 2, ...uleb(offset)];
const f32Load = (offset = 0) => [0x2a, 2, ...uleb(offset)];
const f32Store = (offset = 0) => [0x38, 2, ...uleb(offset)];
const simd = (opcode: number, ...immediates: number[]) => [0xfd, ...uleb(opcode), ...immediates];
const V128_LOAD = (offset = 0) => simd(0x00, 0, ...uleb(offset));
const V128_LOAD8X8_S = (offset = 0) => simd(0x01, 0, ...uleb(offset));
const I32X4_DOT_I16X8_S = simd(0xba);
const I32X4_ADD = simd(0xae);
const F32X4_ADD = simd(0xe4);
const F32X4_CONVERT_I32X4_S = simd(0xfa);
const f32x4Lane = (lane: number) => simd(0x1f, lane);

/** Horizontal sum of the f32x4 in local `v` (leaves an f32). */
const sumLanes = (v: number) => [...get(v), ...f32x4Lane(0), ...get(v), ...f32x4Lane(1), ...F32_ADD, ...get(v), ...f32x4Lane(2), ...get(v), ...f32x4Lane(3), ...F32_ADD, ...F32_ADD];

/** Accumulators of the scoring kernel: independent chains, so the adds need not wait on each other. */
const ACCUMULATORS = 4;

/**
 * score_i8(q, base, list, count, out) for rows of `blocks × 16` values (see the module comment),
 * with the row loop's body unrolled: each 8 values are loaded sign-extended to int16
 * (`v128.load8x8_s`), multiplied with the query's 8 and summed pairwise into int32 lanes
 * (`i32x4.dot_i16x8_s`), all at constant offsets, into ACCUMULATORS vectors taken in turn.
 */
function scoreInt8(blocks: number): Func {
  const [Q, BASE, LIST, COUNT, OUT, I, P, V] = [0, 1, 2, 3, 4, 5, 6, 7];
  const ACC = 8;
  const stride = blocks * 16 + 16;
  const body: number[] = [];
  for (let h = 0; h < blocks * 2; h++) {
    const acc = ACC + (h % ACCUMULATORS);
    if (h >= ACCUMULATORS) body.push(...get(acc));
    body.push(...get(P), ...V128_LOAD8X8_S(h * 8), ...get(Q), ...V128_LOAD(h * 16), ...I32X4_DOT_I16X8_S);
    if (h >= ACCUMULATORS) body.push(...I32X4_ADD);
    body.push(...set(acc));
  }
  const used = Math.min(ACCUMULATORS, blocks * 2);
  const total: number[] = [...get(ACC)];
  for (let a = 1; a < used; a++) total.push(...get(ACC + a), ...I32X4_ADD);
  return {
    name: 'score_i8',
    params: [I32, I32, I32, I32, I32],
    results: [],
    locals: [[2, I32], [1 + ACCUMULATORS, V128]],
    code: [
      ...BLOCK, ...get(COUNT), ...I32_EQZ, ...brIf(0),
      ...LOOP,
      // p = base + list[i] × stride
      ...get(BASE), ...get(LIST), ...get(I), ...i32Const(2), ...I32_SHL, ...I32_ADD, ...i32Load(), ...i32Const(stride), ...I32_MUL, ...I32_ADD, ...set(P),
      ...body,
      // out[i] = f32(sum of lanes) × scale (the float32 after the row's values)
      ...get(OUT), ...get(I), ...i32Const(2), ...I32_SHL, ...I32_ADD,
      ...total, ...F32X4_CONVERT_I32X4_S, ...set(V), ...sumLanes(V),
      ...get(P), ...f32Load(blocks * 16), ...F32_MUL, ...f32Store(),
      ...get(I), ...i32Const(1), ...I32_ADD, ...tee(I), ...get(COUNT), ...I32_LT_U, ...brIf(0),
      ...END,
      ...END,
    ],
  };
}

/**
 * sum_f32(ptr, blocks): the sum of `blocks × 16` float32 values at `ptr` (16-byte aligned), four
 * vectors at a time — reading memory as fast as the machine can. The benchmark times it as the
 * memory-bandwidth floor of a scan.
 */
function sumFloat32(): Func {
  const [PTR, BLOCKS, STOP, A, B, C, D] = [0, 1, 2, 3, 4, 5, 6];
  return {
    name: 'sum_f32',
    params: [I32, I32],
    results: [F32],
    locals: [[1, I32], [4, V128]],
    code: [
      ...get(PTR), ...get(BLOCKS), ...i32Const(6), ...I32_SHL, ...I32_ADD, ...set(STOP),
      ...BLOCK, ...get(BLOCKS), ...I32_EQZ, ...brIf(0),
      ...LOOP,
      ...get(A), ...get(PTR), ...V128_LOAD(0), ...F32X4_ADD, ...set(A),
      ...get(B), ...get(PTR), ...V128_LOAD(16), ...F32X4_ADD, ...set(B),
      ...get(C), ...get(PTR), ...V128_LOAD(32), ...F32X4_ADD, ...set(C),
      ...get(D), ...get(PTR), ...V128_LOAD(48), ...F32X4_ADD, ...set(D),
      ...get(PTR), ...i32Const(64), ...I32_ADD, ...tee(PTR), ...get(STOP), ...I32_LT_U, ...brIf(0),
      ...END,
      ...END,
      ...get(A), ...get(B), ...F32X4_ADD, ...get(C), ...get(D), ...F32X4_ADD, ...F32X4_ADD, ...set(A), ...sumLanes(A),
    ],
  };
}

export interface VectorKernel {
  readonly memory: WasmMemory;
  /** Scores `count` rows (numbers at `list`) against the query at `q` into float32s at `out`; rows of the kernel's block count, from `base`. */
  scoreInt8(q: number, base: number, list: number, count: number, out: number): void;
  /** Sum of `blocks × 16` float32 at `ptr` (see sumFloat32). */
  sumFloat32(ptr: number, blocks: number): number;
}

/** Compiled modules by block count; null where WebAssembly SIMD is unavailable. */
const compiled = new Map<number, object | null>();

function compiledModule(blocks: number): object | null {
  let module = compiled.get(blocks);
  if (module !== undefined) return module;
  try {
    const bytes = assemble([scoreInt8(blocks), sumFloat32()]);
    module = wasm && wasm.validate(bytes) ? new wasm.Module(bytes) : null;
  } catch {
    module = null;
  }
  compiled.set(blocks, module);
  return module;
}

/** True when the kernel can run here (WebAssembly with 128-bit SIMD: Node ≥ 16 on x64 and arm64). */
export function vectorKernelAvailable(): boolean {
  return compiledModule(1) !== null;
}

/**
 * A kernel for rows of `blocks × 16` int8 values (stride `blocks × 16 + 16` bytes), over a memory
 * of its own of `pages` × 64 KiB to start with. Throws when WebAssembly SIMD is unavailable.
 */
export function createVectorKernel(pages: number, blocks = 1): VectorKernel {
  const module = compiledModule(blocks);
  if (!module || !wasm) throw new Error('WebAssembly SIMD is not available');
  const memory = new wasm.Memory({ initial: Math.max(1, Math.ceil(pages)) });
  const { exports } = new wasm.Instance(module, { env: { memory } });
  const score = exports.score_i8 as VectorKernel['scoreInt8'];
  const sum = exports.sum_f32 as VectorKernel['sumFloat32'];
  return {
    memory,
    scoreInt8: (q, base, list, count, out) => score(q, base, list, count, out),
    sumFloat32: (ptr, blocks) => sum(ptr, blocks),
  };
}

/**
 * The largest query magnitude for rows of `blocks × 16` int8 values: each int32 lane of the
 * kernel sums blocks × 4 products of at most 127 × |q|, which must stay below 2³¹.
 */
export function queryScaleLimit(blocks: number): number {
  return Math.min(32_767, Math.floor((2 ** 31 - 1) / (127 * blocks * 4)));
}
