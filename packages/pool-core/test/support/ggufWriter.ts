/**
 * Writes small, valid GGUF v3 files for tests: the header (magic, version, tensor and metadata
 * counts), typed metadata, the tensor table and zero-filled tensor data, each tensor's data at an
 * offset aligned to 32 bytes as GGUF requires. The weights mean nothing; the layout is exact.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import { Effect } from "effect"

/** A metadata value with its GGUF type. */
export type GgufValue =
  | { readonly type: "u32"; readonly value: number }
  | { readonly type: "f32"; readonly value: number }
  | { readonly type: "string"; readonly value: string }
  | { readonly type: "u32[]"; readonly value: ReadonlyArray<number> }

/** One tensor of the table: ggml type id and the shape (innermost dimension first, as GGUF stores it). */
export interface GgufTensor {
  readonly name: string
  readonly shape: ReadonlyArray<number>
  readonly type: number
  /** Bytes of its data in the file (what its type and shape take). */
  readonly bytes: number
}

const alignment = 32
const typeIds = { u32: 4, f32: 6, string: 8, array: 9 } as const

class ByteWriter {
  private readonly chunks: Array<Uint8Array> = []
  length = 0
  private push(chunk: Uint8Array) {
    this.chunks.push(chunk)
    this.length += chunk.length
  }
  u32(value: number) {
    const view = new DataView(new ArrayBuffer(4))
    view.setUint32(0, value, true)
    this.push(new Uint8Array(view.buffer))
  }
  u64(value: number) {
    const view = new DataView(new ArrayBuffer(8))
    view.setBigUint64(0, BigInt(value), true)
    this.push(new Uint8Array(view.buffer))
  }
  f32(value: number) {
    const view = new DataView(new ArrayBuffer(4))
    view.setFloat32(0, value, true)
    this.push(new Uint8Array(view.buffer))
  }
  string(value: string) {
    const bytes = new TextEncoder().encode(value)
    this.u64(bytes.length)
    this.push(bytes)
  }
  zeros(count: number) {
    this.push(new Uint8Array(count))
  }
  padTo(multiple: number) {
    this.zeros((multiple - (this.length % multiple)) % multiple)
  }
  bytes(): Uint8Array {
    return Buffer.concat(this.chunks)
  }
}

const padded = (n: number) => Math.ceil(n / alignment) * alignment

/** The bytes of a GGUF v3 file with this metadata and these tensors. */
export const ggufBytes = (
  metadata: ReadonlyArray<readonly [string, GgufValue]>,
  tensors: ReadonlyArray<GgufTensor>
): Uint8Array => {
  const out = new ByteWriter()
  out.u32(0x46554747) // "GGUF" read as a little-endian u32
  out.u32(3)
  out.u64(tensors.length)
  out.u64(metadata.length)
  for (const [key, entry] of metadata) {
    out.string(key)
    out.u32(entry.type === "u32[]" ? typeIds.array : typeIds[entry.type])
    if (entry.type === "u32") out.u32(entry.value)
    else if (entry.type === "f32") out.f32(entry.value)
    else if (entry.type === "string") out.string(entry.value)
    else {
      out.u32(typeIds.u32)
      out.u64(entry.value.length)
      for (const value of entry.value) out.u32(value)
    }
  }
  let offset = 0
  for (const tensor of tensors) {
    out.string(tensor.name)
    out.u32(tensor.shape.length)
    for (const dim of tensor.shape) out.u64(dim)
    out.u32(tensor.type)
    out.u64(offset)
    offset += padded(tensor.bytes)
  }
  out.padTo(alignment)
  for (const tensor of tensors) out.zeros(padded(tensor.bytes))
  return out.bytes()
}

/** Writes a GGUF v3 file at `path`. */
export const writeGguf = (
  path: string,
  metadata: ReadonlyArray<readonly [string, GgufValue]>,
  tensors: ReadonlyArray<GgufTensor>
) => Effect.flatMap(FileSystem.FileSystem, (fs) => fs.writeFile(path, ggufBytes(metadata, tensors)))
