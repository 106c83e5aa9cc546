/** Photos named on the command line: files as given, folders searched recursively for images. */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CliError } from './CliError.ts';

const IMAGE_FILE = /\.(jpe?g|png|webp|gif|tiff?|avif|heic)$/i;

export function collectPhotos(paths: readonly string[], what = 'photos'): string[] {
  const photos: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (IMAGE_FILE.test(name)) photos.push(path);
    }
  };
  for (const path of paths) {
    if (!existsSync(path)) throw new CliError(`${path}: no such file or folder`);
    if (statSync(path).isDirectory()) walk(path);
    else photos.push(path);
  }
  if (photos.length === 0) throw new CliError(`no ${what} found in ${paths.join(', ') || '(nothing given)'}`);
  return [...new Set(photos)];
}
