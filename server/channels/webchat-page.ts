/**
 * The customer's side of a web chat, served at /chat: a name and a question,
 * then a live conversation (server-sent events). Text is always set with
 * textContent, never parsed as HTML.
 */
export const WEBCHAT_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Chat with us</title>
<style>
body{margin:0;font:15px/1.45 system-ui,sans-serif;background:#eef2f7;color:#1d1d21;display:grid;place-items:center;min-height:100vh}
.box{width:min(420px,100vw);height:min(640px,100vh);background:#fff;border-radius:14px;box-shadow:0 12px 40px rgba(0,0,0,.15);display:flex;flex-direction:column;overflow:hidden}
header{background:#3b82f6;color:#fff;padding:14px 18px;font-weight:600}
header small{display:block;font-weight:400;opacity:.85}
form.start{padding:18px;display:grid;gap:10px}
label{display:grid;gap:4px;font-size:13px;color:#555}
input,textarea{font:inherit;padding:8px 10px;border:1px solid #ccd;border-radius:8px}
button{font:inherit;font-weight:600;border:0;border-radius:8px;padding:9px 14px;background:#3b82f6;color:#fff;cursor:pointer}
ol{list-style:none;margin:0;padding:14px;flex:1;overflow-y:auto;display:flex;flex-direction:column;gap:8px}
li{max-width:80%;padding:7px 11px;border-radius:12px;background:#e9eef6;align-self:flex-end;white-space:pre-wrap;overflow-wrap:anywhere}
li.agent{background:#fff;border:1px solid #dde;align-self:flex-start}
li.system{background:none;color:#777;font-size:13px;align-self:center}
form.send{display:flex;gap:8px;padding:10px;border-top:1px solid #eee}
form.send input{flex:1}
[hidden]{display:none!important}
.error{color:#b91c1c;font-size:13px;margin:0}
</style></head><body>
<div class="box">
<header>Customer service<small id="status">We usually answer within a minute</small></header>
<form class="start" id="start">
<label>Your name<input id="name" required maxlength="200" autocomplete="name"></label>
<label>How can we help?<textarea id="question" required rows="4" maxlength="4000"></textarea></label>
<button type="submit">Start chat</button><p class="error" id="error" role="alert"></p>
</form>
<ol id="log" hidden aria-live="polite"></ol>
<form class="send" id="send" hidden><input id="text" aria-label="Message" autocomplete="off" maxlength="4000"><button type="submit">Send</button></form>
</div>
<script>
const $ = (id) => document.getElementById(id);
let chat;
function line(text, who) { const li = document.createElement('li'); li.className = who; li.textContent = text; $('log').append(li); $('log').scrollTop = $('log').scrollHeight; }
$('start').addEventListener('submit', async (e) => {
  e.preventDefault();
  const res = await fetch('/webchat/conversations', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: $('name').value, question: $('question').value }) });
  const body = await res.json();
  if (!res.ok) { $('error').textContent = body.error.message; return; }
  chat = body;
  $('start').hidden = true; $('log').hidden = false; $('send').hidden = false;
  $('status').textContent = 'Waiting for an agent…';
  const events = new EventSource('/webchat/conversations/' + chat.conversationId + '/events?token=' + encodeURIComponent(chat.token));
  events.onmessage = (m) => {
    const u = JSON.parse(m.data);
    if (u.type === 'message') line(u.message.text, u.message.from === 'customer' ? 'me' : u.message.from === 'agent' ? 'agent' : 'system');
    if (u.type === 'joined') { $('status').textContent = u.agentName + ' is helping you'; line(u.agentName + ' joined the chat', 'system'); }
    if (u.type === 'ended') { $('status').textContent = 'Chat ended'; line('The chat has ended.', 'system'); $('send').hidden = true; events.close(); }
  };
  $('text').focus();
});
$('send').addEventListener('submit', async (e) => {
  e.preventDefault();
  const text = $('text').value.trim();
  if (!text) return;
  $('text').value = '';
  await fetch('/webchat/conversations/' + chat.conversationId + '/messages', { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer ' + chat.token }, body: JSON.stringify({ text }) });
});
</script></body></html>`;
