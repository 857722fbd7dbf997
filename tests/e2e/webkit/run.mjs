// Drives the Web kit's own AppServer client (Web/React/src/service/standard.ts, bundled by the test
// with shim.mjs standing in for `aliyun-auikit-aicall`) against a running AppServer.
//
//   node run.mjs <bundle.mjs> '<json: {baseUrl, user, token, agentId, outsideAgent, region, phone}>'
//
// Prints one JSON line per call on stdout: {phase, call, ok, value | error: {name, message, code}}.
// The kit's own console.log output goes to stderr.
import { createHmac, randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';

import { AICallAgentConfig, AICallAgentType, AICallChatSyncConfig } from './shim.mjs';

console.log = (...args) => console.error(...args);

const [bundle, rawParams] = process.argv.slice(2);
const p = JSON.parse(rawParams);

// A fresh module (a fresh StandardAppService singleton) per phase.
const load = async (phase) => (await import(`${pathToFileURL(bundle).href}?phase=${phase}`)).default;

const emit = (line) => process.stdout.write(`${JSON.stringify(line)}\n`);

async function call(phase, name, fn, view = (v) => v) {
  try {
    emit({ phase, call: name, ok: true, value: view(await fn()) });
  } catch (e) {
    emit({ phase, call: name, ok: false, error: { name: e?.name, message: e?.message, code: e?.code } });
  }
}

// The demo's call config (App.tsx / PSTN/Outbound/index.tsx build AICallConfig like this).
function callConfig(extra = {}) {
  return { agentType: AICallAgentType.VoiceAgent, region: p.region, userId: p.user, userJoinToken: '',
           agentConfig: new AICallAgentConfig(), ...extra };
}

// What ali-oss's signatureUrl(key, {expires: 3600}) gives for the credentials getOssConfig answered
// (region `oss-<r>`, so the host is `<bucket>.oss-<r>.aliyuncs.com`); the upload itself is not made.
function presignedGet(oss, key) {
  const expires = Math.floor(Date.now() / 1000) + 60 * 60;
  const resource = `/${oss.bucket}/${key}?security-token=${oss.sts_token}`;
  const signature = createHmac('sha1', oss.access_key_secret).update(`GET\n\n\n${expires}\n${resource}`).digest('base64');
  const path = key.split('/').map(encodeURIComponent).join('/');
  return `https://${oss.bucket}.${oss.region}.aliyuncs.com/${path}?Expires=${expires}` +
    `&OSSAccessKeyId=${encodeURIComponent(oss.access_key_id)}&Signature=${encodeURIComponent(signature)}` +
    `&security-token=${encodeURIComponent(oss.sts_token)}`;
}

// --- without setServerAuth (and with an empty token argument) ------------------------------------
{
  const phase = 'noauth';
  const s = await load(phase);
  s.setAppServer(p.baseUrl);
  await call(phase, 'getRtcAuthToken', () => s.getRtcAuthToken(p.user, randomUUID()));
  await call(phase, 'describeAIAgent', () => s.describeAIAgent(p.user, p.region, p.agentId));
  await call(phase, 'startAIAgentOutboundCall',
    () => s.startAIAgentOutboundCall(p.user, p.phone, callConfig({ agentId: p.agentId })));
  await call(phase, 'getOssConfig', () => s.getOssConfig(p.user));
  await call(phase, 'setAIAgentVoiceprint', () => s.setAIAgentVoiceprint(p.user, p.region, `voiceprint_${p.user}_${Date.now()}`,
    JSON.stringify({ Type: 'oss', Data: `oss://bucket/client-uploads/${p.user}/a.wav`, Format: 'wav' })));
  await call(phase, 'generateAIAgent', () => s.generateAIAgent(p.user, '', callConfig()));
  await call(phase, 'describeAIAgentInstance', () => s.describeAIAgentInstance(p.user, '', p.region, randomUUID().replaceAll('-', '')));
  await call(phase, 'generateMessageChatToken', () => s.generateMessageChatToken(p.user, '', p.agentId, p.region));
}

// --- an integrator that calls setServerAuth(token) --------------------------------------------------
{
  const phase = 'auth';
  const s = await load(phase);
  s.setAppServer(p.baseUrl);
  s.setServerAuth(p.token);

  let info;
  await call(phase, 'generateAIAgent', async () => (info = await s.generateAIAgent(p.user, p.token, callConfig())));
  await call(phase, 'describeAIAgentInstance', () => s.describeAIAgentInstance(p.user, p.token, p.region, info?.instanceId));

  const withAgent = callConfig({
    agentId: p.agentId,
    userData: JSON.stringify({ scene: 'web' }),
    chatSyncConfig: new AICallChatSyncConfig(randomUUID(), 'chat-agent', p.user),
  });
  withAgent.agentConfig.voiceprintConfig.useVoiceprint = true;
  withAgent.agentConfig.voiceprintConfig.voiceprintId = `voiceprint_${p.user}_1`;
  await call(phase, 'generateAIAgent+agentId', () => s.generateAIAgent(p.user, p.token, withAgent));

  await call(phase, 'getRtcAuthToken', () => s.getRtcAuthToken(p.user, randomUUID()));
  await call(phase, 'describeAIAgent', () => s.describeAIAgent(p.user, p.region, p.agentId));
  await call(phase, 'generateMessageChatToken', () => s.generateMessageChatToken(p.user, p.token, p.agentId, p.region),
    (t) => ({ ...t, isValid: t.isValid() }));

  const outbound = callConfig({ agentId: p.agentId });
  outbound.agentConfig.interruptConfig.enableVoiceInterrupt = false;
  outbound.agentConfig.ttsConfig.agentVoiceId = 'longxiaochun_v2';
  await call(phase, 'startAIAgentOutboundCall', () => s.startAIAgentOutboundCall(p.user, p.phone, outbound));

  let oss;
  await call(phase, 'getOssConfig', async () => (oss = await s.getOssConfig(p.user)),
    (o) => ({ ...o, access_key_secret: o.access_key_secret ? '<set>' : '', sts_token: o.sts_token ? '<set>' : '' }));
  const url = oss ? presignedGet(oss, `${oss.base_path}/webrecord_${p.user}_${Date.now()}.wav`) : '';
  const vid = `voiceprint_${p.user}_${Date.now()}`;
  await call(phase, 'setAIAgentVoiceprint',
    () => s.setAIAgentVoiceprint(p.user, p.region, vid, JSON.stringify({ Type: 'oss', Data: url, Format: 'wav' })),
    (v) => ({ ...v, sent_voiceprint_id: vid, sent_url: url.split('?')[0] }));

  await call(phase, 'generateAIAgent+outsideAgent',
    () => s.generateAIAgent(p.user, p.token, callConfig({ agentId: p.outsideAgent })));
}
