/** A fetch that records the Authorization header of every request and can answer some requests itself. */
export function recordingFetch(answer?: (url: string, body: string) => Response | null): { fetch: typeof fetch; auth: string[]; urls: string[] } {
  const auth: string[] = []
  const urls: string[] = []
  return {
    auth,
    urls,
    fetch: (async (input: RequestInfo | URL, init?: RequestInit) => {
      auth.push(new Headers(init?.headers).get('authorization') ?? '')
      urls.push(String(input))
      const injected = answer?.(String(input), typeof init?.body === 'string' ? init.body : new TextDecoder().decode(init?.body as Uint8Array | undefined))
      return injected ?? fetch(input, init)
    }) as typeof fetch,
  }
}
