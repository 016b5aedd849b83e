/**
 * `npx tsx scripts/make-sounds.ts`: synthesises the bundled ringtones as
 * small mono WAV files (so no sound file of unknown licence is shipped).
 */
import { writeFileSync } from 'node:fs';

const RATE = 22050;

function wav(samples: Float32Array): Buffer {
  const data = Buffer.alloc(samples.length * 2);
  samples.forEach((s, i) => data.writeInt16LE(Math.round(Math.max(-1, Math.min(1, s)) * 32767), i * 2));
  const header = Buffer.alloc(44);
  header.write('RIFF', 0);
  header.writeUInt32LE(36 + data.length, 4);
  header.write('WAVEfmt ', 8);
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20);
  header.writeUInt16LE(1, 22);
  header.writeUInt32LE(RATE, 24);
  header.writeUInt32LE(RATE * 2, 28);
  header.writeUInt16LE(2, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36);
  header.writeUInt32LE(data.length, 40);
  return Buffer.concat([header, data]);
}

/** Notes as [frequency Hz, start s, length s]; each a softly decaying sine with a little overtone. */
function tone(notes: [number, number, number][], total: number): Float32Array {
  const out = new Float32Array(Math.round(total * RATE));
  for (const [freq, start, length] of notes) {
    const from = Math.round(start * RATE);
    for (let i = 0; i < length * RATE && from + i < out.length; i++) {
      const t = i / RATE;
      const envelope = Math.min(1, t / 0.01) * Math.exp(-t * 5);
      out[from + i]! += 0.35 * envelope * (Math.sin(2 * Math.PI * freq * t) + 0.3 * Math.sin(4 * Math.PI * freq * t));
    }
  }
  return out;
}

const sounds: Record<string, Float32Array> = {
  chime: tone([[880, 0, 0.6], [1318.5, 0.18, 0.8]], 1.2),
  ring: tone([[988, 0, 0.25], [784, 0.25, 0.25], [988, 0.5, 0.25], [784, 0.75, 0.5]], 1.6),
  soft: tone([[659.3, 0, 0.9]], 1.0),
};
for (const [name, samples] of Object.entries(sounds)) {
  writeFileSync(`public/sounds/${name}.wav`, wav(samples));
  console.log(`public/sounds/${name}.wav`);
}
