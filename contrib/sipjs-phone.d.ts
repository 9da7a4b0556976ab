// Types of ./sipjs-phone.js (plain JavaScript, so that a browser loads it as it is).
import type { RegistererOptions, UserAgentOptions } from 'sip.js';

export function tvphoneUserAgentOptions(o: { server: string; user: string; password: string; domain?: string }): UserAgentOptions;
export const tvphoneRegistererOptions: RegistererOptions;
