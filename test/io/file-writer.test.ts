import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFileWriter } from '../../src/io/file-writer.js';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'taskchart-writer-'));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('createFileWriter', () => {
  it('keeps the order of writes to each file, replacing or appending as asked', async () => {
    fs.writeFileSync(path.join(dir, 'a.log'), 'left over from an earlier run\n');
    const writer = createFileWriter();
    writer.write(path.join(dir, 'a.log'), 'a1\n', true);
    writer.write(path.join(dir, 'b.log'), 'b1\n', true);
    for (let index = 2; index <= 2000; index++) {
      writer.write(path.join(dir, 'a.log'), `a${index}\n`, false);
    }
    writer.write(path.join(dir, 'b.log'), 'b2\n', false);
    await writer.close();

    const a = fs.readFileSync(path.join(dir, 'a.log'), 'utf8').trim().split('\n');
    expect(a).toEqual(Array.from({ length: 2000 }, (_, index) => `a${index + 1}`));
    expect(fs.readFileSync(path.join(dir, 'b.log'), 'utf8')).toBe('b1\nb2\n');
  });

  it('writes more than it may hold back, in order, when the text outruns the writer', async () => {
    const writer = createFileWriter();
    const chunk = 'x'.repeat(1024 * 1024 - 1) + '\n';
    for (let index = 0; index < 48; index++)
      writer.write(path.join(dir, 'big.log'), chunk, index === 0);
    await writer.close();
    expect(fs.statSync(path.join(dir, 'big.log')).size).toBe(48 * chunk.length);
  });

  it('reports a file it could not write when it closes', async () => {
    const writer = createFileWriter();
    writer.write(path.join(dir, 'missing', 'x.log'), 'text\n', true);
    writer.write(path.join(dir, 'ok.log'), 'fine\n', true);
    await expect(writer.close()).rejects.toThrow(/could not write a log file: .*ENOENT/);
    expect(fs.readFileSync(path.join(dir, 'ok.log'), 'utf8')).toBe('fine\n');
  });
});
