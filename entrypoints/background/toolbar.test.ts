import { describe, expect, it } from 'vitest';
import { OFFLINE_COLOR, ONLINE_COLOR, ToolbarPainter, toolbarLook } from './toolbar';

const at = (status: 'idle' | 'connecting' | 'open' | 'waiting' | 'refused', attempt = 0, lastError?: string) => ({
  status,
  attempt,
  since: 0,
  ...(lastError ? { lastError } : {}),
});

describe('toolbarLook', () => {
  it('counts the offers waiting while connected', () => {
    expect(toolbarLook(0, at('open'))).toEqual({ text: '', color: ONLINE_COLOR, problem: null });
    expect(toolbarLook(3, at('open'))).toEqual({ text: '3', color: ONLINE_COLOR, problem: null });
    expect(toolbarLook(120, at('open')).text).toBe('99+');
  });

  it('says a dead or unset feed, with the reason, and keeps the count', () => {
    expect(toolbarLook(0, at('waiting', 2, 'the connection to the feed was lost'))).toEqual({
      text: '!',
      color: OFFLINE_COLOR,
      problem: 'the connection to the feed was lost',
    });
    expect(toolbarLook(2, at('refused', 1, 'the feed refused the agent token'))).toMatchObject({ text: '2', color: OFFLINE_COLOR });
    expect(toolbarLook(0, at('idle', 0, 'No feed URL is set.')).text).toBe('!');
    expect(toolbarLook(0, at('connecting', 3)).text).toBe('!');
  });

  it('does not alarm on a first attempt or before any state', () => {
    expect(toolbarLook(0, at('connecting', 0)).text).toBe('');
    expect(toolbarLook(0, at('idle')).text).toBe('');
    expect(toolbarLook(1, null)).toEqual({ text: '1', color: ONLINE_COLOR, problem: null });
  });
});

describe('ToolbarPainter', () => {
  it('paints only when what the button shows changes', () => {
    const calls: string[] = [];
    const painter = new ToolbarPainter(
      {
        setBadgeText: ({ text }) => void calls.push(`text ${text}`),
        setBadgeBackgroundColor: ({ color }) => void calls.push(`color ${color}`),
        setTitle: ({ title }) => void calls.push(`title ${title}`),
      },
      (c, problem) => (problem === null ? 'Deskbell' : `Deskbell · ${c?.status}: ${problem}`),
    );
    painter.paint(2, at('open'));
    painter.paint(2, at('open'));
    expect(calls).toEqual(['text 2', `color ${ONLINE_COLOR}`, 'title Deskbell']);
    painter.paint(2, at('waiting', 3, 'the connection to the feed was lost'));
    expect(calls.slice(3)).toEqual(['text 2', `color ${OFFLINE_COLOR}`, 'title Deskbell · waiting: the connection to the feed was lost']);
  });
});
