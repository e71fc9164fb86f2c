import { MeshctlError } from '../errors.js';

/** The probe's output cannot be trusted as a whole (no header, truncated, unknown format version). */
export class ProbeOutputError extends MeshctlError {
  constructor(
    readonly gateway: string,
    message: string,
  ) {
    super(message);
  }
}
