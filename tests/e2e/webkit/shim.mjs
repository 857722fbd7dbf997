// Stand-in for the parts of `aliyun-auikit-aicall` that the Web kit's service layer
// (Web/React/src/service/standard.ts and interface.ts) imports. Written for these tests:
// only the names, fields and numeric codes the service layer and run.mjs touch.

export class AICallAgentError extends Error {
  constructor(message, code) {
    super(message);
    this.code = code ?? AICallErrorCode.UnknowError;
  }
}

export const AICallErrorCode = Object.freeze({
  None: 0,
  InvalidParames: -2,
  NetworkError: -3,
  AgentSubscriptionRequired: -10203,
  AgentNotFound: -10204,
  UnknowError: -40000,
});

export const AICallAgentType = Object.freeze({ VoiceAgent: 0, AvatarAgent: 1, VisionAgent: 2, VideoAgent: 3 });

export class AIChatAuthToken {
  constructor(appId, appSign, token, timestamp, role, nonce) {
    Object.assign(this, { appId, appSign, token, timestamp, role, nonce });
  }

  // Keys as the AppServer answers them (lower case, underscores).
  static fromData(data) {
    const d = data ?? {};
    return new AIChatAuthToken(d.app_id ?? '', d.app_sign ?? '', d.token ?? '', d.timestamp ?? 0, d.role, d.nonce);
  }

  isValid() {
    return this.appId.length > 0 && this.appSign.length > 0 && this.token.length > 0;
  }
}

// The SDK's defaults (what `new AICallAgentConfig().toJSON()` gives in aliyun-auikit-aicall 2.10.5),
// with the settings the Web demo changes: interruption, voice, voiceprint.
export class AICallAgentConfig {
  constructor() {
    this.interruptConfig = { enableVoiceInterrupt: true };
    this.ttsConfig = { agentVoiceId: undefined };
    this.voiceprintConfig = { useVoiceprint: false, voiceprintId: undefined };
  }

  toJSON() {
    const out = {
      EnablePushToTalk: false,
      GracefulShutdown: false,
      EnableIntelligentSegment: true,
      MaxIdleTime: 600,
      UserOnlineTimeout: 60,
      UserOfflineTimeout: 5,
      Volume: 100,
      AsrConfig: { VadLevel: 11 },
    };
    if (this.ttsConfig.agentVoiceId) out.TtsConfig = { VoiceId: this.ttsConfig.agentVoiceId };
    out.LlmConfig = { LlmCompleteReply: false, HistorySyncWithTTS: false };
    out.InterruptConfig = { EnableVoiceInterrupt: this.interruptConfig.enableVoiceInterrupt };
    if (this.voiceprintConfig.voiceprintId) {
      out.VoiceprintConfig = {
        VoiceprintId: this.voiceprintConfig.voiceprintId,
        UseVoiceprint: this.voiceprintConfig.useVoiceprint,
      };
    }
    out.TurnDetectionConfig = { Mode: 'Semantic' };
    return out;
  }
}

export class AICallChatSyncConfig {
  constructor(sessionId, agentId, receiverId) {
    Object.assign(this, { sessionId, agentId, receiverId });
  }

  getConfigString() {
    return JSON.stringify({ IMAIAgentId: this.agentId, ReceiverId: this.receiverId });
  }
}
