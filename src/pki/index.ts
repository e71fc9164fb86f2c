/** The PKI (SPEC §4): the only code that creates key material. Layout of the PKI directory: ./layout.ts. */
export { ensurePki } from './ensure.js';
export { loadPkiReadOnly } from './load.js';
export { holdsPlaceholder, type PkiPreview, placeholderOf, previewPki } from './preview.js';
export { revokeGateway } from './revoke.js';
export { certFingerprint, pkiWarnings } from './warnings.js';
