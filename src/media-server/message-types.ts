// The media types our recordings are stored (and fetched) as. Apart from the media server so that code which only
// tells a recording from another message (the silo's delivery by URL, RFC 4483) loads none of the RTP and muxing code.

/** The media type a voice message is kept (and fetched) as. */
export const VOICE_MESSAGE_TYPE = 'audio/wav';
/** The media type a video message is kept (and fetched) as: Matroska, H.264 video and 16-bit PCM audio. */
export const VIDEO_MESSAGE_TYPE = 'video/x-matroska';
/** Whether a stored message is one of our recordings (a voice or a video message), delivered by URL (RFC 4483). */
export function isRecordingType(contentType: string): boolean {
  return contentType === VOICE_MESSAGE_TYPE || contentType === VIDEO_MESSAGE_TYPE;
}
