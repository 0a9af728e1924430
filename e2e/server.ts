/** A tiny static HTTP server for the e2e page: in-memory files on 127.0.0.1, a random free port. */
import { readFile, readdir } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join, relative } from 'node:path'

export interface StaticFile {
  body: Uint8Array | string
  /** Content-Type header, e.g. 'application/wasm'. */
  type: string
}

export interface StaticServer {
  /** Base URL, e.g. http://127.0.0.1:41234 (a secure context for Chromium). */
  url: string
  /** Every request as 'STATUS METHOD PATH', in order. */
  log: string[]
  close(): Promise<void>
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
}

/** Content type by file extension (the served paths all have one of the above). */
export function contentTypeOf(path: string): string {
  const ext = /\.[a-z]+$/.exec(path)?.[0] ?? ''
  const type = CONTENT_TYPES[ext]
  if (!type) throw new Error(`e2e server: no content type known for ${path}`)
  return type
}

/**
 * Every file under `dir` (a bundler's output directory), keyed by its URL path relative to `dir`
 * ('/index.html', '/assets/x.wasm'), ready for startStaticServer.
 */
export async function collectStaticFiles(dir: string, root: string = dir, files: Map<string, StaticFile> = new Map()): Promise<Map<string, StaticFile>> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) await collectStaticFiles(path, root, files)
    else {
      const url = `/${relative(root, path).split('\\').join('/')}`
      files.set(url, { body: await readFile(path), type: contentTypeOf(path) })
    }
  }
  return files
}

/** Serves `files` (URL path -> file) for GET and HEAD; everything else is 404/405. */
export async function startStaticServer(files: ReadonlyMap<string, StaticFile>): Promise<StaticServer> {
  const log: string[] = []
  const server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://127.0.0.1').pathname
    const file = files.get(path)
    let status = 200
    if (request.method !== 'GET' && request.method !== 'HEAD') status = 405
    else if (!file) status = 404
    log.push(`${status} ${request.method} ${path}`)
    if (status !== 200 || !file) {
      response.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' }).end(status === 404 ? 'not found' : 'method not allowed')
      return
    }
    const body = typeof file.body === 'string' ? Buffer.from(file.body, 'utf8') : file.body
    response.writeHead(200, { 'Content-Type': file.type, 'Content-Length': body.byteLength, 'Cache-Control': 'no-store' })
    response.end(request.method === 'HEAD' ? undefined : body)
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    log,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections()
        server.close((error) => (error ? reject(error) : resolve()))
      }),
  }
}
