import { randomBytes } from 'node:crypto';

/**
 * tls-crypt keys use OpenVPN's static key V1 text: 256 random bytes as 16 lines of 32 lowercase hex digits
 * between fixed header and footer lines — byte for byte what `openvpn --genkey tls-crypt FILE` writes.
 */
const HEADER = '-----BEGIN OpenVPN Static key V1-----';
const FOOTER = '-----END OpenVPN Static key V1-----';
const KEY_BYTES = 256;
const HEX_PER_LINE = 32;

/** What precedes and follows the hex lines in the text meshctl (and `openvpn --genkey`) writes. */
const WRITTEN_HEAD = `#\n# 2048 bit OpenVPN static key\n#\n${HEADER}\n`;
const WRITTEN_TAIL = `${FOOTER}\n`;
const WRITTEN_HEX = new RegExp(`^(?:[0-9a-f]{${HEX_PER_LINE}}\n){${KEY_BYTES / (HEX_PER_LINE / 2)}}$`);
const WRITTEN_LENGTH =
  WRITTEN_HEAD.length + (KEY_BYTES * 2 + KEY_BYTES / (HEX_PER_LINE / 2)) + WRITTEN_TAIL.length;

export function generateTlsCryptKey(): string {
  const hex = randomBytes(KEY_BYTES).toString('hex');
  const lines = hex.match(new RegExp(`.{${HEX_PER_LINE}}`, 'g')) ?? [];
  return `${WRITTEN_HEAD}${lines.join('\n')}\n${WRITTEN_TAIL}`;
}

/**
 * Checks the structure OpenVPN requires (comment lines before the header are allowed, as OpenVPN writes them).
 * Returns the problem, never the content.
 */
export function tlsCryptKeyProblem(text: string): string | undefined {
  // A big mesh has thousands of these, nearly always exactly as written: that form is recognised without
  // splitting the text into lines (it is one of the forms the general check below accepts).
  if (isAsWritten(text)) return undefined;
  const lines = text.split('\n').map((line) => line.trim());
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const start = lines.indexOf(HEADER);
  if (start < 0) return `has no "${HEADER}" line`;
  if (lines.slice(0, start).some((line) => line !== '' && !line.startsWith('#'))) {
    return 'has text before the key header';
  }
  const body = lines.slice(start + 1);
  if (body[body.length - 1] !== FOOTER) return `does not end with "${FOOTER}"`;
  const hexLines = body.slice(0, -1);
  const wellFormed = hexLines.every((line) => /^[0-9a-fA-F]{32}$/.test(line));
  if (hexLines.length !== KEY_BYTES / (HEX_PER_LINE / 2) || !wellFormed) {
    return `does not hold exactly ${KEY_BYTES / (HEX_PER_LINE / 2)} lines of ${HEX_PER_LINE} hex digits`;
  }
  return undefined;
}

function isAsWritten(text: string): boolean {
  return (
    text.length === WRITTEN_LENGTH &&
    text.startsWith(WRITTEN_HEAD) &&
    text.endsWith(WRITTEN_TAIL) &&
    WRITTEN_HEX.test(text.slice(WRITTEN_HEAD.length, text.length - WRITTEN_TAIL.length))
  );
}
