// A language model for tests: an OpenAI-compatible chat-completions server that answers from a
// script and records every request it receives, so a test can assert what the gateway put in
// front of the model (the case summary, the agent's SOP) and drive exactly which tools the
// "model" calls.
//
// A script is a list of turns; each request takes the next one: `{ text }` answers with text,
// `{ tool, args }` with one tool call, and a function of the request body returns either (so a
// turn can use what the gateway showed the model). When the script runs out the model says
// "Done.".
import { createServer } from 'node:http';

export async function startScriptedModel(script = []) {
  const requests = [];
  const turns = [...script];
  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (d) => { raw += d; });
    req.on('end', () => {
      let body = {};
      try { body = JSON.parse(raw || '{}'); } catch { /* recorded as empty */ }
      requests.push({ path: req.url, body });
      if (req.method === 'GET' && req.url.endsWith('/models')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ object: 'list', data: [{ id: 'dispatch-test', object: 'model' }] }));
        return;
      }
      const next = turns.shift() ?? { text: 'Done.' };
      const turn = typeof next === 'function' ? next(body) : next;
      const message = turn.tool
        ? {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: `call_${requests.length}`, type: 'function',
            function: { name: turn.tool, arguments: JSON.stringify(turn.args ?? {}) } }],
        }
        : { role: 'assistant', content: turn.text };
      const finish = turn.tool ? 'tool_calls' : 'stop';
      const id = `chatcmpl-${requests.length}`;
      const created = Math.floor(Date.now() / 1000);
      if (body.stream) {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        const delta = turn.tool
          ? { role: 'assistant', tool_calls: message.tool_calls.map((c, index) => ({ index, ...c })) }
          : { role: 'assistant', content: turn.text };
        const chunk = (choice) => `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model: body.model, choices: [choice] })}\n\n`;
        res.write(chunk({ index: 0, delta, finish_reason: null }));
        res.write(chunk({ index: 0, delta: {}, finish_reason: finish }));
        res.write(`data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model: body.model, choices: [],
          usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 } })}\n\n`);
        res.end('data: [DONE]\n\n');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ id, object: 'chat.completion', created, model: body.model,
        choices: [{ index: 0, message, finish_reason: finish }],
        usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 } }));
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${server.address().port}/v1`;
  return {
    url,
    requests,
    /** Chat requests only (not model listings). */
    chats: () => requests.filter((r) => r.path.endsWith('/chat/completions')),
    close: () => new Promise((r) => server.close(r)),
    /** Adds turns to the script. */
    push: (...more) => turns.push(...more),
  };
}

/** The gateway configuration that makes the scripted model every agent's model. */
export function scriptedProvider(url) {
  return {
    models: {
      providers: {
        scripted: {
          baseUrl: url,
          apiKey: 'scripted',
          api: 'openai-completions',
          models: [{ id: 'dispatch-test', name: 'Scripted test model', reasoning: false, input: ['text'],
            cost: { input: 0, output: 0, cacheRead: 0, cacheWrite: 0 }, contextWindow: 128000, maxTokens: 4096 }],
        },
      },
    },
    agents: { defaults: { model: { primary: 'scripted/dispatch-test' } } },
  };
}
