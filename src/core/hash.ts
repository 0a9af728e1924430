const encoder = new TextEncoder()
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'))

/** Returns `sha256:<hex>` of the UTF-8 encoding of a string. */
export type Sha256 = (text: string) => string | Promise<string>

async function webCryptoSha256(text: string): Promise<string> {
  const digest = new Uint8Array(await globalThis.crypto.subtle.digest('SHA-256', encoder.encode(text)))
  let hex = 'sha256:'
  for (const byte of digest) hex += HEX[byte]
  return hex
}

let implementation: Sha256 = webCryptoSha256

/**
 * Web Crypto everywhere by default. The Node entry swaps in node:crypto's synchronous digest (the
 * same OpenSSL SHA-256, 8x cheaper than an awaited crypto.subtle call); a test checks both agree
 * byte for byte, lone surrogates included.
 */
export function useSha256(sha256: Sha256): void {
  implementation = sha256
}

export async function sha256Hex(text: string): Promise<string> {
  return implementation(text)
}

export { webCryptoSha256 }
