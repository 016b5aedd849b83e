/**
 * The offscreen document: the worker cannot play audio, so it asks this page
 * to. It reports what it is doing over a port, which also tells the worker
 * when Chrome has closed the page.
 */
import { browser } from 'wxt/browser';
import { onMessage, type SoundState } from '../../utils/messages';
import { type FromOffscreen, OFFSCREEN_PORT } from '../../utils/ports';
import { SOUNDS } from '../../utils/templates';

const audio = new Audio();
const port = browser.runtime.connect({ name: OFFSCREEN_PORT });
let current: SoundState = { playing: false };

function report(next: SoundState): void {
  current = next;
  port.postMessage({ type: 'sound', state: current } satisfies FromOffscreen);
}

onMessage('playSound', async ({ data }) => {
  if (!(SOUNDS as readonly string[]).includes(data.sound)) return;
  audio.src = browser.runtime.getURL(`/sounds/${data.sound}.wav` as '/');
  audio.loop = data.loop;
  audio.volume = Math.max(0, Math.min(1, data.volume / 100));
  audio.currentTime = 0;
  try {
    await audio.play();
    report({ playing: true, sound: data.sound, loop: data.loop, volume: data.volume });
  } catch (error) {
    console.warn('[deskbell] could not play the ringtone:', error);
    report({ playing: false });
  }
});

onMessage('stopSound', () => {
  audio.pause();
  report({ playing: false });
});

audio.addEventListener('ended', () => {
  if (!audio.loop) report({ playing: false });
});
