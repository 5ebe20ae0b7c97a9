import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { defineConfig, type Plugin } from 'vite';

/** Text files worth compressing; images and fonts are compressed already. */
const COMPRESSIBLE = /\.(?:html|js|css|svg|json|txt|map)$/;

/**
 * Writes `<file>.br` and `<file>.gz` beside each text file of the finished build (index.html and
 * public/ included), at the highest levels: paid once here, never per request. The gateway serves
 * the variant the client accepts.
 */
function precompress(): Plugin {
  let outDir = 'dist';
  return {
    name: 'conveyor-precompress',
    apply: 'build',
    configResolved(config) {
      outDir = path.resolve(config.root, config.build.outDir);
    },
    async closeBundle() {
      const files = await readdir(outDir, { recursive: true, withFileTypes: true });
      for (const file of files) {
        if (!file.isFile() || !COMPRESSIBLE.test(file.name)) continue;
        const full = path.join(file.parentPath, file.name);
        const bytes = await readFile(full);
        const br = brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length } });
        await writeFile(`${full}.br`, br);
        await writeFile(`${full}.gz`, gzipSync(bytes, { level: 9 }));
      }
    },
  };
}

export default defineConfig({
  // The gateway serves the console under /console/; every asset URL starts there.
  base: '/console/',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // Small files stay files: an inlined data: URL would need img-src data: in the CSP.
    assetsInlineLimit: 0,
    sourcemap: false,
  },
  plugins: [precompress()],
});
