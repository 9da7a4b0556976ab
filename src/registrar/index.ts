// The registrar capability's public surface, for routing/ and server.ts.
export { Registrar, type RegistrarOptions, type RegistrationPolicy, type RegistrationSource } from './registrar.ts';
export { Authenticator, type AuthenticatorOptions, type AuthResult } from './authenticate.ts';
export { orderBindings } from './lookup.ts';
export { REGISTRAR_REPLIES, registrarError, errorResponse, type RegistrarFailure } from './reply.ts';
export { systemClock, type Clock } from './clock.ts';
