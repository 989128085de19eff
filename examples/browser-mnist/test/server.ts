import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { extname, join, normalize } from 'node:path';

const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.gz': 'application/octet-stream' };

/**
 * A static server for the built page on 127.0.0.1. Under /isolated/ it sends the two headers
 * that make a page cross-origin isolated (what gives it SharedArrayBuffer); under /plain/ none.
 */
export async function serve(root: string): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer(async (req, res) => {
    const [, mode, ...rest] = (req.url ?? '/').split('?')[0]!.split('/');
    const path = normalize(rest.join('/') || 'index.html');
    if ((mode !== 'plain' && mode !== 'isolated') || path.startsWith('..')) return void res.writeHead(404).end();
    try {
      const body = await readFile(join(root, path));
      res.setHeader('Content-Type', TYPES[extname(path)] ?? 'application/octet-stream');
      if (mode === 'isolated') {
        res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
        res.setHeader('Cross-Origin-Embedder-Policy', 'require-corp');
      }
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  // a loopback address is a secure context, which WebGPU needs
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((r) => server.close(() => r())) };
}
