/**
 * Device memory reservations of the catalogued models: which device each loaded (or loading) model
 * holds memory on, and how much is free. Without devices nothing is accounted: everything fits.
 *
 * @internal
 */

/** A device models are placed on and its memory, in MiB. */
export interface LedgerDevice {
  readonly id: string
  readonly memoryMb: number
}

/** One model's reservation. */
export interface Reservation {
  readonly device: string | undefined
  readonly mb: number
}

/** The reservations of one manager, by model id. */
export class MemoryLedger {
  private readonly reservations = new Map<string, Reservation>()
  constructor(readonly devices: ReadonlyArray<LedgerDevice>) {}

  /** MiB not reserved on `device`. */
  free(device: string): number {
    const total = this.devices.find((d) => d.id === device)?.memoryMb ?? 0
    let used = 0
    for (const reservation of this.reservations.values()) if (reservation.device === device) used += reservation.mb
    return total - used
  }

  /** The devices a model may use: the pinned one, or all. */
  candidates(pinned: string | undefined): ReadonlyArray<LedgerDevice> {
    return pinned === undefined ? this.devices : this.devices.filter((d) => d.id === pinned)
  }

  /** The reservation of `modelId`, if any. */
  get(modelId: string): Reservation | undefined {
    return this.reservations.get(modelId)
  }

  reserve(modelId: string, reservation: Reservation): void {
    this.reservations.set(modelId, reservation)
  }

  /** Frees the model's reservation (nothing when it has none). */
  release(modelId: string): void {
    this.reservations.delete(modelId)
  }
}
