const encoder = new TextEncoder()
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'))

/** `sha256:<hex>` of UTF-8 text, through Web Crypto so Node and browsers agree byte for byte. */
export async function sha256Hex(text: string): Promise<string> {
  const digest = new Uint8Array(await globalThis.crypto.subtle.digest('SHA-256', encoder.encode(text)))
  let hex = 'sha256:'
  for (const byte of digest) hex += HEX[byte]
  return hex
}
